package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/apierr"
)

// Checker decides whether a token is good right now: signature and expiry (Signer), then the database
// state that can retire a token early — the user is forbidden, deleted, or logged in again on the same
// platform. REST and the gateway both authenticate through it, so they agree.
type Checker struct {
	*Signer
	Q *db.Queries
}

// Check returns the caller's identity or a 1002 error that says why the token is refused.
func (c *Checker) Check(ctx context.Context, token string) (Identity, error) {
	cl, err := c.Parse(token)
	switch {
	case errors.Is(err, ErrExpired):
		return Identity{}, refused(ReasonExpired, apierr.TokenInvalid("%s", err.Error()))
	case err != nil:
		return Identity{}, refused(ReasonMalformed, apierr.TokenInvalid("%s", err.Error()))
	}
	st, err := c.Q.TokenState(ctx, db.TokenStateParams{UserID: cl.UserID, PlatformID: int32(cl.PlatformID)})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Identity{}, refused(ReasonGone, apierr.TokenInvalid("token is not valid: user %s no longer exists", cl.UserID))
	case err != nil:
		return Identity{}, fmt.Errorf("token state of %s: %w", cl.UserID, err)
	case st.ForbiddenType != 0:
		return Identity{}, apierr.TokenInvalid("token is not valid: user %s is forbidden", cl.UserID)
	case st.CurrentTokenID == "":
		// Forbidding a user retires all its tokens, for good: they stay dead after an unforbid.
		return Identity{}, refused(ReasonGone, apierr.TokenInvalid("token is not valid: it was retired when user %s was forbidden; ask for a new one with /auth/user_token", cl.UserID))
	case st.CurrentTokenID != cl.ID:
		return Identity{}, refused(ReasonReplaced, apierr.TokenInvalid("token is not valid: a newer login of user %s on platform %d replaced it", cl.UserID, cl.PlatformID))
	}
	return Identity{UserID: cl.UserID, PlatformID: cl.PlatformID, TokenID: cl.ID, Admin: c.IsAdmin(cl.UserID), Token: token}, nil
}

// Reason says why a token was refused, for the clients that tell the cases apart: the OpenIM SDK profile
// answers them with OpenIM's 1501–1507 (sdkprofile.TokenErrCode). Every refusal is 1002 everywhere else.
type Reason int

// Reasons of a refused token.
const (
	ReasonInvalid   Reason = iota // anything else (a forbidden user's token, no token)
	ReasonExpired                 // past its expiry
	ReasonMalformed               // not a token of this server (bad signature, algorithm or shape)
	ReasonReplaced                // a newer login on the same platform replaced it
	ReasonGone                    // retired: the user was deleted, or forbidden
)

type refusal struct {
	err    *apierr.Error
	reason Reason
}

func refused(r Reason, e *apierr.Error) error { return &refusal{err: e, reason: r} }
func (r *refusal) Error() string              { return r.err.Error() }
func (r *refusal) Unwrap() error              { return r.err }

// RefusalReason returns why Check refused a token (ReasonInvalid when err does not say).
func RefusalReason(err error) Reason {
	var r *refusal
	if errors.As(err, &r) {
		return r.reason
	}
	return ReasonInvalid
}

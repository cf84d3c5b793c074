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
	if err != nil {
		return Identity{}, apierr.TokenInvalid("%s", err.Error())
	}
	st, err := c.Q.TokenState(ctx, db.TokenStateParams{UserID: cl.UserID, PlatformID: int32(cl.PlatformID)})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Identity{}, apierr.TokenInvalid("token is not valid: user %s no longer exists", cl.UserID)
	case err != nil:
		return Identity{}, fmt.Errorf("token state of %s: %w", cl.UserID, err)
	case st.ForbiddenType != 0:
		return Identity{}, apierr.TokenInvalid("token is not valid: user %s is forbidden", cl.UserID)
	case st.CurrentTokenID == "":
		// Forbidding a user retires all its tokens, for good: they stay dead after an unforbid.
		return Identity{}, apierr.TokenInvalid("token is not valid: it was retired when user %s was forbidden; ask for a new one with /auth/user_token", cl.UserID)
	case st.CurrentTokenID != cl.ID:
		return Identity{}, apierr.TokenInvalid("token is not valid: a newer login of user %s on platform %d replaced it", cl.UserID, cl.PlatformID)
	}
	return Identity{UserID: cl.UserID, PlatformID: cl.PlatformID, TokenID: cl.ID, Admin: c.IsAdmin(cl.UserID), Token: token}, nil
}

package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/apierr"
)

const msgSuccess = "success"

func (h *Handlers) checkSecret(secret string) error {
	if subtle.ConstantTimeCompare([]byte(secret), []byte(h.secret)) != 1 {
		return apierr.NoPermission("secret is wrong: use the server's configured shared secret")
	}
	return nil
}

// UserRegister registers a batch of users, all or none.
func (h *Handlers) UserRegister(ctx context.Context, req api.UserRegisterRequestObject) (api.UserRegisterResponseObject, error) {
	if err := h.checkSecret(req.Body.Secret); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	ids := make([]string, 0, len(req.Body.Users))
	for i, u := range req.Body.Users {
		if u.UserID == "" {
			return nil, apierr.Args("users[%d].userID must not be empty", i)
		}
		if seen[u.UserID] {
			return nil, apierr.Args("users[%d].userID %s is listed twice", i, u.UserID)
		}
		seen[u.UserID] = true
		ids = append(ids, u.UserID)
	}
	existing, err := h.q.ExistingUserIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		return nil, apierr.Duplicate("userID %s is already registered; nothing was registered", existing[0])
	}
	now := nowMS(h)
	err = pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		for _, u := range req.Body.Users {
			if err := q.InsertUser(ctx, db.InsertUserParams{UserID: u.UserID, Nickname: u.Nickname, FaceUrl: u.FaceURL, Ex: u.Ex, CreateTime: now}); err != nil {
				return err
			}
		}
		return nil
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return nil, apierr.Duplicate("a userID of this batch was registered concurrently; nothing was registered")
	}
	if err != nil {
		return nil, fmt.Errorf("register users: %w", err)
	}
	return api.UserRegister200JSONResponse{ErrMsg: msgSuccess, Data: api.Empty{}}, nil
}

// UserToken issues a token for a user on a platform; the newest token of a platform retires the older ones
// and closes their connections (2002 kick).
func (h *Handlers) UserToken(ctx context.Context, req api.UserTokenRequestObject) (api.UserTokenResponseObject, error) {
	b := req.Body
	if err := h.checkSecret(b.Secret); err != nil {
		return nil, err
	}
	u, err := h.q.GetUser(ctx, b.UserID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.UserNotFound("userID %s is not registered", b.UserID)
	} else if err != nil {
		return nil, err
	}
	if u.ForbiddenType != 0 {
		return nil, apierr.UserForbidden("user %s is forbidden (%s); an admin can lift it with /manager/unforbid_user", b.UserID, orDash(u.ForbidReason))
	}
	token, tokenID, err := h.checker.Issue(b.UserID, int(b.PlatformID))
	if err != nil {
		return nil, err
	}
	if err := h.q.PutToken(ctx, db.PutTokenParams{UserID: b.UserID, PlatformID: int32(b.PlatformID), TokenID: tokenID, IssuedAt: nowMS(h)}); err != nil {
		return nil, err
	}
	if h.sessions != nil {
		if err := h.sessions.Kick(ctx, b.UserID, int(b.PlatformID), "a newer login on the same platform replaced this connection"); err != nil {
			Log(ctx).Warn("kick older connections", "err", err)
		}
	}
	return api.UserToken200JSONResponse{ErrMsg: msgSuccess, Data: api.UserTokenData{Token: token, ExpireTimeSeconds: int64(h.checker.TTL().Seconds())}}, nil
}

func orDash(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

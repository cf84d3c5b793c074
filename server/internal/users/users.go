// Package users is the user domain: registration, tokens, profiles, forbid and unforbid, and the 1303
// notification a profile change triggers. It takes plain Go inputs (the acting identity first) and returns
// plain results or *apierr.Error; transports (REST, the WebSocket gateway, an SDK profile) only translate.
package users

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/chat"
)

// Service is the user domain.
type Service struct {
	pool   *pgxpool.Pool
	q      *db.Queries
	chat   *chat.Service
	signer *auth.Signer
	secret string
	now    func() time.Time
}

// New returns the user domain; secret is the shared secret of Register and Token.
func New(pool *pgxpool.Pool, c *chat.Service, signer *auth.Signer, secret string) *Service {
	return &Service{pool: pool, q: db.New(pool), chat: c, signer: signer, secret: secret, now: time.Now}
}

// User is a user's stored profile.
type User = db.User

// NewUser is one user to register.
type NewUser struct {
	UserID, Nickname, FaceURL, Ex string
}

func (s *Service) checkSecret(secret string) error {
	if subtle.ConstantTimeCompare([]byte(secret), []byte(s.secret)) != 1 {
		return apierr.NoPermission("secret is wrong: use the server's configured shared secret")
	}
	return nil
}

// Register registers a batch of users, all or none.
func (s *Service) Register(ctx context.Context, secret string, users []NewUser) error {
	if err := s.checkSecret(secret); err != nil {
		return err
	}
	seen := map[string]bool{}
	ids := make([]string, 0, len(users))
	for i, u := range users {
		if u.UserID == "" {
			return apierr.Args("users[%d].userID must not be empty", i)
		}
		if seen[u.UserID] {
			return apierr.Args("users[%d].userID %s is listed twice", i, u.UserID)
		}
		seen[u.UserID] = true
		ids = append(ids, u.UserID)
	}
	existing, err := s.q.ExistingUserIDs(ctx, ids)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return apierr.Duplicate("userID %s is already registered; nothing was registered", existing[0])
	}
	now := s.now().UnixMilli()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		for _, u := range users {
			if err := q.InsertUser(ctx, db.InsertUserParams{UserID: u.UserID, Nickname: u.Nickname, FaceUrl: u.FaceURL, Ex: u.Ex, CreateTime: now}); err != nil {
				return err
			}
		}
		return nil
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return apierr.Duplicate("a userID of this batch was registered concurrently; nothing was registered")
	}
	if err != nil {
		return fmt.Errorf("register users: %w", err)
	}
	return nil
}

// Token is an issued token and its lifetime.
type Token struct {
	Token             string
	ExpireTimeSeconds int64
}

// IssueToken issues a token for a user on a platform; the newest token of a platform retires the older ones
// and closes their connections (2002 kick) in every process. A failed kick is returned as kickErr beside the
// token: the token is valid, the old connections will fail their next token check.
func (s *Service) IssueToken(ctx context.Context, secret, userID string, platformID int) (t Token, kickErr error, err error) {
	if err := s.checkSecret(secret); err != nil {
		return Token{}, nil, err
	}
	u, err := s.q.GetUser(ctx, userID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, nil, apierr.UserNotFound("userID %s is not registered", userID)
	} else if err != nil {
		return Token{}, nil, err
	}
	if u.ForbiddenType != 0 {
		return Token{}, nil, apierr.UserForbidden("user %s is forbidden (%s); an admin can lift it with /manager/unforbid_user", userID, orDash(u.ForbidReason))
	}
	issued := time.Now().UnixMicro() // before the token exists: no connection of it can have registered earlier
	token, tokenID, err := s.signer.Issue(userID, platformID)
	if err != nil {
		return Token{}, nil, err
	}
	if err := s.q.PutToken(ctx, db.PutTokenParams{UserID: userID, PlatformID: int32(platformID), TokenID: tokenID, IssuedAt: s.now().UnixMilli()}); err != nil {
		return Token{}, nil, err
	}
	kickErr = s.chat.KickOlder(ctx, userID, platformID, "a newer login on the same platform replaced this connection", issued)
	return Token{Token: token, ExpireTimeSeconds: int64(s.signer.TTL().Seconds())}, kickErr, nil
}

func orDash(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// Get returns the registered users among userIDs (unknown IDs are skipped, as OpenIM does).
func (s *Service) Get(ctx context.Context, userIDs []string) ([]User, error) {
	return s.q.GetUsers(ctx, userIDs)
}

// RequireRegistered answers 1004 naming the first of userIDs that is not registered.
func (s *Service) RequireRegistered(ctx context.Context, field string, userIDs []string) error {
	known, err := s.q.ExistingUserIDs(ctx, userIDs)
	if err != nil {
		return err
	}
	set := make(map[string]bool, len(known))
	for _, u := range known {
		set[u] = true
	}
	for _, u := range userIDs {
		if !set[u] {
			return apierr.UserNotFound("%s %s is not registered", field, u)
		}
	}
	return nil
}

// ProfileChange is a profile update; empty fields stay as they are.
type ProfileChange struct {
	UserID, Nickname, FaceURL, Ex string
}

// UpdateProfile changes nickname, faceURL and ex of oneself (admins: of anyone). 1303 goes to the user's
// devices and to everyone who has them as a friend, in the update's transaction.
func (s *Service) UpdateProfile(ctx context.Context, by auth.Identity, in ProfileChange) error {
	if by.UserID != in.UserID && !by.Admin {
		return apierr.NoPermission("userInfo.userID is %s but the token belongs to %s; only admins act for other users", in.UserID, by.UserID)
	}
	return s.chat.InTx(ctx, func(tx pgx.Tx, n *chat.Notes) error {
		q := s.q.WithTx(tx)
		_, err := q.UpdateUserInfo(ctx, db.UpdateUserInfoParams{UserID: in.UserID, Nickname: in.Nickname, FaceUrl: in.FaceURL, Ex: in.Ex})
		if errors.Is(err, pgx.ErrNoRows) {
			return apierr.UserNotFound("userInfo.userID %s is not registered", in.UserID)
		} else if err != nil {
			return err
		}
		friends, err := q.FriendOwnersOf(ctx, in.UserID)
		if err != nil {
			return fmt.Errorf("friends of %s: %w", in.UserID, err)
		}
		n.Users(events.UserInfoUpdated, by.UserID, events.UserInfoUpdatedTips{UserID: in.UserID}, append([]string{in.UserID}, friends...)...)
		return nil
	})
}

// Forbid forbids a user: its tokens fail at once (1002), its connections close in every process, no new
// token is issued. A failed kick is returned as kickErr: the forbid holds, the token checks refuse the user.
func (s *Service) Forbid(ctx context.Context, by auth.Identity, userID string, forbiddenType int32, reason string) (kickErr error, err error) {
	if !by.Admin {
		return nil, apierr.NoPermission("/manager/forbid_user is for admin users only; %s is not an admin", by.UserID)
	}
	if s.signer.IsAdmin(userID) {
		return nil, apierr.NoPermission("%s is an admin user and cannot be forbidden", userID)
	}
	if forbiddenType == 0 {
		forbiddenType = 1
	}
	n, err := s.q.SetForbidden(ctx, db.SetForbiddenParams{UserID: userID, ForbiddenType: forbiddenType, ForbidReason: reason, ForbidTime: s.now().UnixMilli()})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apierr.UserNotFound("userID %s is not registered", userID)
	}
	return s.chat.Kick(ctx, userID, 0, "this user has been forbidden"), nil
}

// Unforbid lifts a forbid; the user may obtain tokens again.
func (s *Service) Unforbid(ctx context.Context, by auth.Identity, userID string) error {
	if !by.Admin {
		return apierr.NoPermission("/manager/unforbid_user is for admin users only; %s is not an admin", by.UserID)
	}
	n, err := s.q.SetForbidden(ctx, db.SetForbiddenParams{UserID: userID})
	if err != nil {
		return err
	}
	if n == 0 {
		return apierr.UserNotFound("userID %s is not registered", userID)
	}
	return nil
}

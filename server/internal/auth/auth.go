// Package auth issues and checks the JWTs of the API (HS256, golang-jwt) and carries the caller's identity
// through a request's context.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are what a token carries. The token ID (jti) lets a newer login on the same platform retire it.
type Claims struct {
	UserID     string `json:"userID"`
	PlatformID int    `json:"platformID"`
	jwt.RegisteredClaims
}

// Identity is the authenticated caller of a request or a WebSocket connection.
type Identity struct {
	UserID     string
	PlatformID int
	TokenID    string
	Admin      bool
	Token      string
}

// Signer issues and verifies tokens.
type Signer struct {
	key    []byte
	ttl    time.Duration
	admins []string
	now    func() time.Time
}

// NewSigner returns a Signer with the HMAC key, the token lifetime and the admin user IDs.
func NewSigner(key string, ttl time.Duration, admins []string) *Signer {
	return &Signer{key: []byte(key), ttl: ttl, admins: admins, now: time.Now}
}

// IsAdmin reports whether userID is a configured admin.
func (s *Signer) IsAdmin(userID string) bool { return slices.Contains(s.admins, userID) }

// Admins returns the configured admin user IDs.
func (s *Signer) Admins() []string { return s.admins }

// TTL is the lifetime of new tokens.
func (s *Signer) TTL() time.Duration { return s.ttl }

// Issue signs a new token for userID on platformID and returns it with its ID.
func (s *Signer) Issue(userID string, platformID int) (token, tokenID string, err error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	tokenID = hex.EncodeToString(b[:])
	now := s.now()
	c := Claims{
		UserID:     userID,
		PlatformID: platformID,
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        tokenID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.ttl)),
		},
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.key)
	return token, tokenID, err
}

// ErrExpired is returned by Parse for a well-signed token past its expiry.
var ErrExpired = errors.New("token has expired; ask for a new one with /auth/user_token")

// Parse verifies signature, algorithm (HS256 only, so "alg: none" is refused) and expiry.
// The error text is meant for the client.
func (s *Signer) Parse(token string) (*Claims, error) {
	if token == "" {
		return nil, errors.New("no token: send it in the \"token\" header or as \"Authorization: Bearer <token>\"")
	}
	c := &Claims{}
	_, err := jwt.ParseWithClaims(token, c, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.now),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrExpired
	case err != nil:
		return nil, fmt.Errorf("token is not valid: it is malformed, forged or signed with another key")
	case c.UserID == "" || c.ID == "":
		return nil, errors.New("token is not valid: it carries no userID")
	}
	return c, nil
}

type ctxKey struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the identity stored by With; ok is false on an unauthenticated context.
func From(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

package auth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestIssueParse(t *testing.T) {
	s := NewSigner("k", time.Hour, []string{"imAdmin"})
	tok, id, err := s.Issue("u1", 5)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != "u1" || c.PlatformID != 5 || c.ID != id {
		t.Fatalf("claims = %+v", c)
	}
	if !s.IsAdmin("imAdmin") || s.IsAdmin("u1") {
		t.Fatal("admin check wrong")
	}
}

func TestParseRejects(t *testing.T) {
	s := NewSigner("k", time.Hour, nil)
	good, _, _ := s.Issue("u1", 1)
	other, _, _ := NewSigner("other", time.Hour, nil).Issue("u1", 1)
	past := NewSigner("k", time.Hour, nil)
	past.now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	expired, _, _ := past.Issue("u1", 1)
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, Claims{UserID: "u1", RegisteredClaims: jwt.RegisteredClaims{ID: "x", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}).SignedString([]byte("k"))
	for name, tok := range map[string]string{
		"empty": "", "garbage": "abc", "other key": other, "expired": expired, "alg none": none, "hs512": hs512,
		"tampered": parts[0] + "." + parts[1] + "x." + parts[2],
	} {
		if _, err := s.Parse(tok); err == nil {
			t.Errorf("%s: token accepted", name)
		}
	}
	if _, err := s.Parse(expired); err != ErrExpired {
		t.Errorf("expired: got %v", err)
	}
}

package auth

import (
	"strings"
	"testing"

	"github.com/imspec/imserver/gen/api"
)

// The spec's UserID schema is what clients are told; the server's own checks must be the same rule.
func TestUserIDPatternIsTheSpecs(t *testing.T) {
	spec, err := api.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	s := spec.Components.Schemas["UserID"].Value
	if s.Pattern != UserIDPattern || s.MaxLength == nil || *s.MaxLength != MaxUserIDLen {
		t.Fatalf("spec UserID: pattern %q maxLength %v; server: %q %d", s.Pattern, s.MaxLength, UserIDPattern, MaxUserIDLen)
	}
	for id, want := range map[string]bool{
		"user123": true, "imAdmin": true, "a.b@c+d-e": true, strings.Repeat("a", 64): true,
		"": false, "x_y": false, "a b": false, "-a": false, "a\u202e": false, strings.Repeat("a", 65): false, "é": false,
	} {
		if got := ValidUserID(id); got != want {
			t.Errorf("ValidUserID(%q) = %v, want %v", id, got, want)
		}
	}
}

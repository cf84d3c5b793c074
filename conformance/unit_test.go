package conformance

import (
	"regexp"
	"strings"
	"testing"
)

func TestIDsMapping(t *testing.T) {
	m := &ids{suffix: "r1", admins: map[string]bool{"imAdmin": true}, admin: "root", devSecret: "openIM123", secret: "s3cret"}
	got := m.value(map[string]any{
		"secret":         "openIM123",
		"other":          "openIM123",
		"conversationID": "single_user456_user123",
		"userIDs":        []any{"user123", "user999"},
		"caller":         "imAdmin",
		"text":           "user123 and group123",
	}).(map[string]any)
	want := map[string]string{
		"secret":         "s3cret",
		"other":          "openIM123",
		"conversationID": "single_user123xr1_user456xr1",
		"caller":         "root",
		"text":           "user123xr1 and group123xr1",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	if l := got["userIDs"].([]any); l[0] != "user123xr1" || l[1] != "user999xr1" {
		t.Errorf("userIDs = %v", l)
	}
	// single_<a>_<b> is re-sorted after mapping.
	m2 := &ids{suffix: "r1"}
	if got := m2.str("single_user9_user10"); got != "single_user10xr1_user9xr1" {
		t.Errorf("re-sort: got %s", got)
	}
}

func TestWhen(t *testing.T) {
	conds, err := parseWhen(`body.sessionType in [2, 3] && body.isOnlineOnly != true && group.needVerification == 1`)
	if err != nil || len(conds) != 3 {
		t.Fatalf("parseWhen: %v %v", conds, err)
	}
	if !conds[0].holds(3.0, true) || conds[0].holds(1.0, true) {
		t.Error("in")
	}
	if !conds[1].holds(nil, false) || conds[1].holds(true, true) {
		t.Error("!= with an absent field (its zero value)")
	}
	if v := conds[0].solve(1.0, true); v != 2.0 {
		t.Errorf("solve in: %v", v)
	}
	if v := conds[1].solve(true, true); v != false {
		t.Errorf("solve !=: %v", v)
	}
	if v := conds[2].solve(0.0, true); v != 1.0 {
		t.Errorf("solve ==: %v", v)
	}
	if _, err := parseWhen("body.x >= 2"); err == nil {
		t.Error("want an error for >=")
	}
}

func TestParseExpected(t *testing.T) {
	exp, err := ParseExpected(strings.NewReader("# comment\n\nfriend/addFriend/seed  # friends are not implemented yet\n"))
	if err != nil || exp["friend/addFriend/seed"] != "friends are not implemented yet" || len(exp) != 1 {
		t.Fatalf("got %v, %v", exp, err)
	}
	if _, err := ParseExpected(strings.NewReader("friend/addFriend/seed\n")); err == nil {
		t.Error("a line without a reason must be refused")
	}
}

func TestSuiteDerivesFromTheSpecs(t *testing.T) {
	s, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Ops) == 0 || len(s.Messages) == 0 || len(s.WSOps) == 0 {
		t.Fatalf("ops %d messages %d ws ops %d", len(s.Ops), len(s.Messages), len(s.WSOps))
	}
	names := map[string]bool{}
	for _, c := range s.Cases() {
		if names[c.Name] {
			t.Errorf("duplicate case name %s", c.Name)
		}
		names[c.Name] = true
	}
	for _, want := range []string{"auth/userRegister/seed", "friend/addFriend/err1105-pending", "user/getUsersInfo/err1002-garbageToken",
		"events/FriendAdded/0-addFriendResponse", "ws/gapFill", "self/coverage",
		"msg/getConversationMsg/err1001-limit-count-maximum", "group/inviteUserToGroup/err1001-limit-invitedUserIDs-maxItems"} {
		if !names[want] {
			t.Errorf("no case %s", want)
		}
	}
	if s.profiles["user123"] == nil || s.profiles["user999"] != nil || !s.groups["group123"] || s.groups["group999"] {
		t.Errorf("placeholders: profiles %v groups %v", s.profiles, s.groups)
	}
	if s.devSecret == "" || !s.admins["imAdmin"] {
		t.Errorf("devSecret %q admins %v", s.devSecret, s.admins)
	}
	if err := s.validateAsync("/components/schemas/NotificationElem", map[string]any{"detail": 1}); err == nil ||
		!strings.Contains(err.Error(), "detail") {
		t.Errorf("schema errors name the path: %v", err)
	}
}

// TestGeneratedUserIDs: the user IDs the suite makes fit the user-ID alphabet of the spec (no "_", which would
// make single_<a>_<b> ambiguous), for as many cases as a long run has.
func TestGeneratedUserIDs(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.@+-]{0,63}$`)
	s, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(s, Target{Admin: "imAdmin"})
	rt.seq.Store(1 << 40) // a counter far into a long run
	e := rt.newEnv(Testing(t))
	ids := []string{"bystander" + e.ids.suffix, "friend" + e.ids.suffix, "other" + e.ids.suffix, "owner" + e.ids.suffix,
		"admina" + e.ids.suffix, "memberb" + e.ids.suffix, "pal2" + e.ids.suffix}
	for ph := range s.profiles {
		ids = append(ids, e.id(ph))
	}
	for _, id := range ids {
		if !re.MatchString(id) {
			t.Errorf("generated user ID %q does not match %s", id, re)
		}
	}
}

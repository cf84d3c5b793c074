package sdkprofile

import "testing"

func TestConversationIDs(t *testing.T) {
	cases := []struct{ store, sdk string }{
		{"single_alice_bob", "si_alice_bob"},
		{"single_a_b_c", "si_a_b_c"}, // only the prefix is rewritten
		{"group_g1", "sg_g1"},
		{"notification_alice", "n_alice"},
		{"other", "other"},
		{"", ""},
	}
	for _, c := range cases {
		if got := ToSDK(c.store); got != c.sdk {
			t.Errorf("ToSDK(%q) = %q, want %q", c.store, got, c.sdk)
		}
		if got := FromSDK(c.sdk); got != c.store {
			t.Errorf("FromSDK(%q) = %q, want %q", c.sdk, got, c.store)
		}
	}
	for in, want := range map[string]string{"g_g1": "group_g1", "single_a_b": "single_a_b", "group_g": "group_g"} {
		if got := FromSDK(in); got != want {
			t.Errorf("FromSDK(%q) = %q, want %q", in, got, want)
		}
	}
	if !IsNotification("n_alice") || IsNotification("si_a_b") {
		t.Error("IsNotification is wrong")
	}
}

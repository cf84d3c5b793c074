package chat

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// The wake-ups of a message with 1,000 extra recipients of UUID length (a big group's kick or dismissal)
// each fit PostgreSQL's NOTIFY limit, and together name every recipient once. Before, one wake-up carried
// them all (57 KB) and the NOTIFY failed after the change had committed.
func TestExtraWakeupsStayUnderTheNotifyLimit(t *testing.T) {
	var extra []string
	for i := range 1000 {
		extra = append(extra, strings.Repeat("x", 28)+"-0123-4567-89ab-"+string(rune('a'+i%26))+strings.Repeat("0", 6))
	}
	payloads := extraWakeups("origin", "group_g", 42, extra)
	if len(payloads) < 2 {
		t.Fatalf("%d wake-ups for 1,000 recipients of %d bytes", len(payloads), len(extra[0]))
	}
	var got []string
	for _, p := range payloads {
		if len(p) > maxNotifyPayload {
			t.Errorf("wake-up of %d bytes, over %d", len(p), maxNotifyPayload)
		}
		var w wakeup
		if err := json.Unmarshal([]byte(p), &w); err != nil {
			t.Fatal(err)
		}
		if w.Kind != "msgx" || w.Conv != "group_g" || w.Begin != 42 || w.End != 42 {
			t.Errorf("wake-up %+v", w)
		}
		got = append(got, w.Recipients...)
	}
	if !slices.Equal(got, extra) {
		t.Errorf("the wake-ups name %d recipients, want the %d given in order", len(got), len(extra))
	}
}

// A message is pushed once by whichever of the catch-up and the wake-ups sees it first.
func TestPushedSetOnce(t *testing.T) {
	var p pushedSet
	if !p.add("c", 1) || p.add("c", 1) || !p.add("c", 2) || !p.add("d", 1) {
		t.Fatal("add must report a (conversation, seq) new exactly once")
	}
}

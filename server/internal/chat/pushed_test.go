package chat

import "testing"

// A message is pushed once by whichever of the catch-up and the bus events sees it first.
func TestPushedSetOnce(t *testing.T) {
	var p pushedSet
	if !p.add("c", 1) || p.add("c", 1) || !p.add("c", 2) || !p.add("d", 1) {
		t.Fatal("add must report a (conversation, seq) new exactly once")
	}
}

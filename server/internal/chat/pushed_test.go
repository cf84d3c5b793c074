package chat

import "testing"

// A message is pushed once by whichever of the catch-up and the bus events sees it first, while the events of
// one message (one per recipient, or chunks of a big list) are all delivered.
func TestPushedSet(t *testing.T) {
	var p pushedSet
	if p.mark("c", 1, byEvent) != notPushed || p.mark("c", 1, byEvent) != byEvent {
		t.Fatal("a second event of a message must be told of the first, not of the catch-up")
	}
	if p.mark("c", 1, byCatchUp) != byEvent {
		t.Fatal("the catch-up must skip a message an event pushed")
	}
	if p.mark("c", 2, byCatchUp) != notPushed || p.mark("c", 2, byEvent) != byCatchUp {
		t.Fatal("an event must be dropped when the catch-up pushed its message")
	}
	if p.mark("d", 1, byEvent) != notPushed {
		t.Fatal("another conversation's seq 1 is another message")
	}
}

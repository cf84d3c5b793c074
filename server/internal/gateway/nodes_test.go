package gateway

import (
	"fmt"
	"sync"
	"testing"
)

// attachRecorder blocks in Online for one user (as a slow hook would) and records Attach calls.
type attachRecorder struct {
	block    string
	entered  chan struct{}
	release  chan struct{}
	mu       sync.Mutex
	attached map[string]bool
}

func (a *attachRecorder) Online(u string, _ int) {
	if u == a.block {
		close(a.entered)
		<-a.release
	}
}
func (a *attachRecorder) Offline(string, int) {}
func (a *attachRecorder) Attach(c ConnInfo) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.attached[c.UserID] = true
}

// A connection is attached before its ack even while another goroutine is busy with its shard's hooks (its
// Online then comes later): a multi-node server subscribes in Attach, so a client acting on the ack is
// reachable. (The subscription used to be made in Online, after the ack in this case.)
func TestAttachBeforeAck(t *testing.T) {
	t.Parallel()
	a := &attachRecorder{block: newUser("blocker"), entered: make(chan struct{}), release: make(chan struct{}), attached: map[string]bool{}}
	s := newServer(t, Options{Hooks: a})
	defer close(a.release)
	go func() {
		ws, _, err := s.dial(t, fmt.Sprintf("token=%s&sendID=%s&platformID=1&isMsgResp=true", tok(a.block, 1), a.block), nil)
		if err == nil {
			t.Cleanup(func() { ws.CloseNow() })
		}
	}()
	<-a.entered // the blocker's goroutine now runs its shard's hooks, and stays in them
	var u string
	for i := 0; ; i++ {
		if u = fmt.Sprintf("%s-%d", newUser("same"), i); s.hub.shard(u) == s.hub.shard(a.block) {
			break
		}
	}
	s.connect(t, u, 1) // returns once the ack is read
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.attached[u] {
		t.Fatal("the connection was acknowledged before Attach")
	}
}

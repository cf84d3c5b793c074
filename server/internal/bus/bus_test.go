package bus_test

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/imspec/imserver/server/internal/bus"
	"github.com/imspec/imserver/server/internal/bus/natstest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// handler records what a node got.
type handler struct {
	mu     sync.Mutex
	events []*bus.Event
	ch     chan struct{}
}

func newHandler() *handler { return &handler{ch: make(chan struct{}, 1000)} }

func (h *handler) Handle(e *bus.Event) {
	h.mu.Lock()
	h.events = append(h.events, e)
	h.mu.Unlock()
	h.ch <- struct{}{}
}

func (h *handler) Resync(time.Time) {}

// await waits for n events in all.
func (h *handler) await(t *testing.T, n int) []*bus.Event {
	t.Helper()
	for {
		h.mu.Lock()
		got := len(h.events)
		h.mu.Unlock()
		if got >= n {
			h.mu.Lock()
			defer h.mu.Unlock()
			return append([]*bus.Event(nil), h.events...)
		}
		select {
		case <-h.ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d events, want %d", got, n)
		}
	}
}

func connect(t *testing.T, url string, h bus.Handler) *bus.NATS {
	t.Helper()
	n, err := bus.ConnectNATS(bus.NATSOptions{URLs: []string{url}, Log: quiet, Prefix: "t"}, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// A push reaches only the node that holds its recipient; a node that holds none hears nothing of it; user
// IDs that are not subject tokens route like any other; the frame arrives byte for byte.
func TestRoutingByRecipient(t *testing.T) {
	s := natstest.Start(t)
	ha, hb, hc := newHandler(), newHandler(), newHandler()
	a, b, c := connect(t, s.ClientURL(), ha), connect(t, s.ClientURL(), hb), connect(t, s.ClientURL(), hc)
	odd := "user.with *dots> and spaces"
	b.Hold("u1")
	c.Hold(odd)
	for _, n := range []*bus.NATS{b, c} {
		if err := n.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	frame := []byte("{\"x\":\"line\\nbreak\"}\n\x00binary")
	a.Publish(&bus.Event{Kind: bus.KindPush, Conv: "c", Seq: 7, Recipients: []string{"u1", "nobody"}, Frame: frame})
	a.Publish(&bus.Event{Kind: bus.KindKick, UserID: odd, PlatformID: 2, Reason: "r"})
	// A marker to both, after which nothing else may be pending for either.
	b.Hold("marker")
	c.Hold("marker")
	_ = b.Flush()
	_ = c.Flush()
	a.Publish(&bus.Event{Kind: bus.KindPush, Recipients: []string{"marker"}})

	gb := hb.await(t, 2)
	if len(gb) != 2 || gb[0].Seq != 7 || gb[0].Conv != "c" || strings.Join(gb[0].Recipients, ",") != "u1" || string(gb[0].Frame) != string(frame) {
		t.Fatalf("node b got %+v", gb)
	}
	gc := hc.await(t, 2)
	if len(gc) != 2 || gc[0].Kind != bus.KindKick || gc[0].UserID != odd || gc[0].PlatformID != 2 {
		t.Fatalf("node c got %+v", gc)
	}
	// The publisher hears nothing of its own events (it delivered them itself).
	if len(ha.events) != 0 {
		t.Fatalf("node a got its own events: %+v", ha.events)
	}
}

// A push to many recipients goes once to every node, in chunks under NATS's payload limit, and names every
// recipient once.
func TestBigFanOutOncePerNode(t *testing.T) {
	s := natstest.Start(t)
	ha, hb := newHandler(), newHandler()
	a, _ := connect(t, s.ClientURL(), ha), connect(t, s.ClientURL(), hb)
	var many []string
	for i := range 40_000 {
		many = append(many, strings.Repeat("x", 30)+string(rune('a'+i%26))+strings.Repeat("0", i%7))
	}
	a.Publish(&bus.Event{Kind: bus.KindPush, Conv: "g", Seq: 1, Recipients: many, Frame: []byte("{}")})
	small := many[:bus.PerUserMax+1]
	a.Publish(&bus.Event{Kind: bus.KindPush, Conv: "g", Seq: 2, Recipients: small, Frame: []byte("{}")})
	// Both went to the same subject from one publisher, so they arrive in order: seq 2 comes last.
	var events []*bus.Event
	for n := 2; ; n++ {
		events = hb.await(t, n)
		if events[len(events)-1].Seq == 2 {
			break
		}
	}
	var got []string
	chunks := 0
	for _, e := range events[:len(events)-1] {
		got = append(got, e.Recipients...)
		chunks++
	}
	if strings.Join(got, ",") != strings.Join(many, ",") {
		t.Fatalf("node b was told of %d recipients, want the %d published, in order", len(got), len(many))
	}
	if chunks < 2 {
		t.Fatalf("40,000 recipients (1.4 MB) in %d event: over NATS's 1 MiB payload limit", chunks)
	}
}

// Measures the single-node default: publishing an event costs nothing on bus.Local, and this much through
// an embedded nats-server reached in-process (no port), with nobody subscribed, as on one node.
func BenchmarkPublish(b *testing.B) {
	e := &bus.Event{Kind: bus.KindPush, Conv: "single_a_b", Seq: 42, Recipients: []string{"a", "b"}, Frame: make([]byte, 600)}
	b.Run("local", func(b *testing.B) {
		var l bus.Bus = bus.Local{}
		for b.Loop() {
			l.Publish(e)
		}
	})
	b.Run("embedded-nats", func(b *testing.B) {
		s, err := natsserver.NewServer(&natsserver.Options{DontListen: true, NoLog: true, NoSigs: true})
		if err != nil {
			b.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			b.Fatal("not ready")
		}
		defer s.Shutdown()
		n, err := bus.ConnectNATS(bus.NATSOptions{URLs: []string{nats.DefaultURL}, Log: quiet, InProcess: s}, newHandler())
		if err != nil {
			b.Fatal(err)
		}
		defer n.Close()
		for b.Loop() {
			n.Publish(e)
		}
		_ = n.Flush()
	})
}

// Hold and Release count connections: the node hears of a user until its last connection of theirs goes.
func TestHoldCountsConnections(t *testing.T) {
	s := natstest.Start(t)
	ha, hb := newHandler(), newHandler()
	a, b := connect(t, s.ClientURL(), ha), connect(t, s.ClientURL(), hb)
	b.Hold("u")
	b.Hold("u")
	b.Release("u")
	a.Publish(&bus.Event{Kind: bus.KindPush, Seq: 1, Recipients: []string{"u"}})
	hb.await(t, 1)
	b.Release("u")
	if b.Subscriptions() != 0 {
		t.Fatalf("%d subscriptions after the last Release", b.Subscriptions())
	}
	_ = b.Flush()
	b.Hold("marker")
	a.Publish(&bus.Event{Kind: bus.KindPush, Seq: 2, Recipients: []string{"u"}})
	a.Publish(&bus.Event{Kind: bus.KindPush, Seq: 3, Recipients: []string{"marker"}})
	got := hb.await(t, 2)
	if len(got) != 2 || got[1].Seq != 3 {
		t.Fatalf("after the last Release node b got %+v", got)
	}
}

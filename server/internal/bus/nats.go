package bus

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// Subjects, under a deployment's prefix (so that deployments may share a NATS cluster):
//
//	<prefix>.u.<user>  events for one user; a node subscribes while it holds a connection of the user
//	<prefix>.all       pushes to many recipients, and resync announcements; every node subscribes
//
// A push to at most PerUserMax recipients goes to each recipient's subject, so a node holding none of them
// hears nothing. A bigger one (a group's message) goes once to <prefix>.all with its recipient list: one
// message per node instead of one per member. With m members spread over N nodes, a node holds none of
// them with probability (1-1/N)^m, under 1% for m=50 and N=10, so routing a big group by node would save
// almost nothing, at the price of a user-to-node directory that every node keeps in step.
const PerUserMax = 8

// Bounds of the NATS connection.
const (
	// pingInterval and maxPingsOut bound how long a silently dead NATS server goes unnoticed (10-15 s).
	pingInterval = 5 * time.Second
	maxPingsOut  = 2
	// reconnectWait is the pause between rounds over the server list.
	reconnectWait = 250 * time.Millisecond
	// inbox is how many received events may wait for the delivery goroutine; beyond it NATS drops
	// (slow consumer) and the node resyncs from the database.
	inbox = 1 << 16
	// maxChunk keeps one published event well under NATS's default max_payload (1 MiB).
	maxChunk = 512 << 10
	// holdFlush bounds Hold's wait for the server to confirm a subscription.
	holdFlush = time.Second
	// unnoticed is how long before a noticed loss events may already have been lost: a server that died
	// silently is found by pings only.
	unnoticed = pingInterval * (maxPingsOut + 1)
	// remoteResyncMax bounds how far back another node's resync announcement makes this node look: its
	// connections were not cut off, only that node's last publications may be lost, and looking further back
	// than chat's memory of what it pushed (30 s) would push messages twice.
	remoteResyncMax = 25 * time.Second
)

// NATSOptions configure a NATS bus.
type NATSOptions struct {
	// URLs of the NATS servers (the client fails over between them and learns the cluster's others).
	URLs []string
	// Creds (a .creds file) or NKey (a seed file) authenticate; CA, Cert and Key are TLS files.
	Creds, NKey, CA, Cert, Key string
	// Name is this node's name (in the NATS server's connection list).
	Name string
	// Prefix is the first token of every subject. Default "imserver".
	Prefix string
	// Log receives connection changes.
	Log *slog.Logger
	// InProcess, when set, reaches an embedded nats-server in-process instead of URLs.
	InProcess nats.InProcessConnProvider
	// Registerer, when set, gets the bus's Prometheus series (imserver_bus_*).
	Registerer prometheus.Registerer
}

// metrics are the bus's Prometheus series.
type metrics struct {
	published, received, dropped, failed, resyncs prometheus.Counter
	held                                          prometheus.GaugeFunc
}

// NATS is the bus of a multi-node deployment.
type NATS struct {
	nc     *nats.Conn
	h      Handler
	log    *slog.Logger
	prefix string
	in     chan *nats.Msg
	all    *nats.Subscription
	done   chan struct{}
	wg     sync.WaitGroup

	mu   sync.Mutex
	subs map[string]*held

	closing       atomic.Bool
	lost          atomic.Int64 // ms when the connection was lost; 0 while connected
	dropMu        sync.Mutex
	dropAt        time.Time // the first drop not yet resynced (zero: none)
	dropResyncing bool
	m             metrics
	dropped       atomic.Int64 // events NATS dropped because delivery fell behind
	failed        atomic.Int64 // publications that failed
	failLogged    atomic.Int64 // ms of the last failure logged
}

var _ Bus = (*NATS)(nil)

// held is a user's subscription and the number of this node's connections of theirs.
type held struct {
	sub  *nats.Subscription
	refs int
}

// ConnectNATS joins the bus; h handles the other nodes' events. It returns once connected, or with an
// error when no server answers (a node that cannot reach the bus must not pretend to be part of the
// deployment).
func ConnectNATS(o NATSOptions, h Handler) (*NATS, error) {
	if o.Prefix == "" {
		o.Prefix = "imserver"
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	n := &NATS{log: o.Log, prefix: o.Prefix, in: make(chan *nats.Msg, inbox), done: make(chan struct{}), subs: map[string]*held{}}
	n.h = countingHandler{h, n}
	n.m = metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "imserver_bus_published_total", Help: "Events this node published on NATS."}),
		received:  prometheus.NewCounter(prometheus.CounterOpts{Name: "imserver_bus_received_total", Help: "Events of other nodes this node received."}),
		dropped:   prometheus.NewCounter(prometheus.CounterOpts{Name: "imserver_bus_dropped_total", Help: "Events NATS dropped because this node's delivery fell behind (each leads to a resync)."}),
		failed:    prometheus.NewCounter(prometheus.CounterOpts{Name: "imserver_bus_publish_failed_total", Help: "Publications that failed (connection closed, reconnect buffer full)."}),
		resyncs:   prometheus.NewCounter(prometheus.CounterOpts{Name: "imserver_bus_resyncs_total", Help: "Catch-ups from PostgreSQL after a bus gap (own reconnect, another node's announcement, drops)."}),
	}
	n.m.held = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imserver_bus_users_held", Help: "Users this node is subscribed for (it holds a connection of theirs)."},
		func() float64 { return float64(n.Subscriptions()) })
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{n.m.published, n.m.received, n.m.dropped, n.m.failed, n.m.resyncs, n.m.held} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	opts := []nats.Option{
		nats.Name("imserver " + o.Name),
		nats.NoEcho(), // this node delivered its own events already
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if n.closing.Load() {
				return
			}
			n.lost.CompareAndSwap(0, time.Now().UnixMilli())
			n.log.Warn("bus: NATS connection lost; reconnecting", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { n.reconnected(nc) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				n.dropped.Add(1)
				n.m.dropped.Inc()
				n.resyncSoon()
				return
			}
			n.log.Warn("bus: NATS error", "err", err)
		}),
	}
	if o.InProcess != nil {
		opts = append(opts, nats.InProcessServer(o.InProcess))
	}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.NKey != "" {
		opt, err := nats.NkeyOptionFromSeed(o.NKey)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey: %w", err)
		}
		opts = append(opts, opt)
	}
	if o.CA != "" {
		opts = append(opts, nats.RootCAs(o.CA))
	}
	if o.Cert != "" {
		opts = append(opts, nats.ClientCert(o.Cert, o.Key))
	}
	nc, err := nats.Connect(strings.Join(o.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS %s: %w", strings.Join(o.URLs, ","), err)
	}
	n.nc = nc
	if n.all, err = nc.ChanSubscribe(n.prefix+".all", n.in); err != nil {
		nc.Close()
		return nil, err
	}
	n.wg.Go(n.deliver)
	return n, nil
}

// reconnected resyncs this node from the time its connection was lost, and asks the other nodes to do the
// same: what it published just before noticing the loss may never have left the dead server.
func (n *NATS) reconnected(nc *nats.Conn) {
	ms := n.lost.Swap(0)
	if ms == 0 {
		ms = time.Now().UnixMilli()
	}
	since := time.UnixMilli(ms).Add(-unnoticed)
	ms = since.UnixMilli()
	n.log.Info("bus: NATS connection back; resyncing", "server", nc.ConnectedUrlRedacted(), "since", since.UTC().Format(time.RFC3339Nano))
	n.publish(n.prefix+".all", &Event{Kind: KindResync, Since: ms})
	go n.h.Resync(since)
}

// resyncSoon resyncs after events were dropped for a full inbox. Drops during a resync lead to one more
// after it, from the first of them, so that none goes uncovered however many there are.
func (n *NATS) resyncSoon() {
	n.dropMu.Lock()
	defer n.dropMu.Unlock()
	if n.dropAt.IsZero() {
		n.dropAt = time.Now().Add(-pingInterval) // the drops happened before the error reached us
	}
	if n.dropResyncing {
		return
	}
	n.dropResyncing = true
	n.log.Warn("bus: events dropped (delivery fell behind); resyncing", "dropped", n.dropped.Load())
	go func() {
		for {
			n.dropMu.Lock()
			since := n.dropAt
			n.dropAt = time.Time{}
			if since.IsZero() {
				n.dropResyncing = false
				n.dropMu.Unlock()
				return
			}
			n.dropMu.Unlock()
			n.h.Resync(since)
		}
	}()
}

// deliver hands received events to the handler, in the order they arrived (one goroutine: a user's pushes
// stay in seq order).
func (n *NATS) deliver() {
	for {
		select {
		case m := <-n.in:
			n.m.received.Inc()
			e, err := decode(m.Data)
			if err != nil {
				n.log.Warn("bus: undecodable event", "subject", m.Subject, "err", err)
				continue
			}
			if e.Kind == KindResync {
				go n.h.Resync(later(time.UnixMilli(e.Since), time.Now().Add(-remoteResyncMax)))
				continue
			}
			n.h.Handle(e)
		case <-n.done:
			return
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Publish sends e to the nodes holding its recipients.
func (n *NATS) Publish(e *Event) {
	switch {
	case e.Kind == KindKick:
		n.publish(n.userSubject(e.UserID), e)
	case len(e.Recipients) <= PerUserMax:
		one := *e
		for _, r := range e.Recipients {
			one.Recipients = []string{r}
			n.publish(n.userSubject(r), &one)
		}
	default:
		// Chunks of recipients, each event under maxChunk however big the group.
		all := e.Recipients
		for len(all) > 0 {
			size, k := len(e.Frame)+256, 0
			for k < len(all) && (k == 0 || size+len(all[k])+3 <= maxChunk) {
				size += len(all[k]) + 3
				k++
			}
			part := *e
			part.Recipients = all[:k]
			n.publish(n.prefix+".all", &part)
			all = all[k:]
		}
	}
}

func (n *NATS) publish(subject string, e *Event) {
	n.m.published.Inc()
	if err := n.nc.Publish(subject, encode(e)); err != nil {
		n.m.failed.Inc()
		// Closed, or the reconnect buffer is full: the receivers resync when this node reconnects. Logged
		// once a second at most: during an outage every push fails.
		n.failed.Add(1)
		now := time.Now().UnixMilli()
		if last := n.failLogged.Load(); now-last >= 1000 && n.failLogged.CompareAndSwap(last, now) {
			n.log.Warn("bus: publish failed", "subject", subject, "err", err, "failedSoFar", n.failed.Load())
		}
	}
}

// Hold counts a connection of userID, subscribing to the user's subject at the first; it then waits (up to
// holdFlush) until the NATS server has the subscription, so that a client acting on its connect ack (sending
// itself a message through another node, say) is already reachable.
func (n *NATS) Hold(userID string) {
	n.mu.Lock()
	if h := n.subs[userID]; h != nil {
		h.refs++
		n.mu.Unlock()
		return
	}
	sub, err := n.nc.ChanSubscribe(n.userSubject(userID), n.in)
	if err != nil {
		n.mu.Unlock()
		n.log.Warn("bus: subscribe failed; this user's pushes from other nodes arrive by resync only", "userID", userID, "err", err)
		return
	}
	n.subs[userID] = &held{sub: sub, refs: 1}
	n.mu.Unlock()
	if n.nc.IsConnected() {
		_ = n.nc.FlushTimeout(holdFlush) // a slow server only delays the ack; the subscription stands
	}
}

// Release uncounts a connection of userID, unsubscribing after the last.
func (n *NATS) Release(userID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := n.subs[userID]
	if h == nil {
		return
	}
	if h.refs--; h.refs <= 0 {
		_ = h.sub.Unsubscribe()
		delete(n.subs, userID)
	}
}

// Subscriptions is the number of users this node is subscribed for (tests, metrics).
func (n *NATS) Subscriptions() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.subs)
}

// Flush waits until the server has processed everything published and subscribed so far.
func (n *NATS) Flush() error { return n.nc.Flush() }

// Close drains nothing (the database holds everything that matters) and leaves.
func (n *NATS) Close() {
	n.closing.Store(true)
	n.nc.Close()
	close(n.done)
	n.wg.Wait()
}

// countingHandler counts resyncs.
type countingHandler struct {
	Handler
	n *NATS
}

func (c countingHandler) Resync(since time.Time) {
	c.n.m.resyncs.Inc()
	c.Handler.Resync(since)
}

// userSubject is the subject of userID: the ID itself when it is a valid subject token, else "~" and its
// base64url (user IDs may hold '.', '*', '>' or spaces; '~' never starts a plain one).
func (n *NATS) userSubject(userID string) string {
	return n.prefix + ".u." + token(userID)
}

func token(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "~" + base64.RawURLEncoding.EncodeToString([]byte(s))
		}
	}
	if s == "" {
		return "~"
	}
	return s
}

// wire is an Event's header on the wire: the event and its number of recipients.
type wire struct {
	*Event
	N int `json:"n,omitempty"`
}

// encode is the JSON header, then each recipient on a line of its own (user IDs hold no newline; one that
// did could not be routed and is left out), then the frame as is. A header never holds a newline
// (encoding/json escapes them). A list of IDs costs a fraction of what encoding/json takes for it, on the
// publisher and on every node that receives it.
func encode(e *Event) []byte {
	size, n := len(e.Frame)+1, 0
	for _, r := range e.Recipients {
		if strings.IndexByte(r, '\n') < 0 {
			size += len(r) + 1
			n++
		}
	}
	h, err := json.Marshal(wire{e, n})
	if err != nil {
		panic(err) // an Event always marshals
	}
	b := make([]byte, 0, len(h)+size)
	b = append(append(b, h...), '\n')
	for _, r := range e.Recipients {
		if strings.IndexByte(r, '\n') < 0 {
			b = append(append(b, r...), '\n')
		}
	}
	return append(b, e.Frame...)
}

func decode(b []byte) (*Event, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, errors.New("no header")
	}
	w := wire{Event: &Event{}}
	if err := json.Unmarshal(b[:i], &w); err != nil {
		return nil, err
	}
	b = b[i+1:]
	if w.N > 0 {
		// One string for the whole list, the recipients slices of it: one allocation, not one per member.
		end := 0
		for range w.N {
			j := bytes.IndexByte(b[end:], '\n')
			if j < 0 {
				return nil, errors.New("recipient list cut short")
			}
			end += j + 1
		}
		list := string(b[:end])
		w.Recipients = make([]string, 0, w.N)
		for len(list) > 0 {
			j := strings.IndexByte(list, '\n')
			w.Recipients = append(w.Recipients, list[:j])
			list = list[j+1:]
		}
		b = b[end:]
	}
	w.Frame = b
	return w.Event, nil
}

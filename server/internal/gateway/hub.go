package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
)

// numShards splits the registry so that fan-out to many users and connection churn do not serialize on
// one lock. A power of two; 64 shards cost a few KiB per Hub.
const numShards = 64

// reasonReplaced is the errMsg of the 2002 frame a connection gets when a newer login on the same platform
// takes its place.
const reasonReplaced = "a newer login on the same platform replaced this connection"

// PlatformConn is one live connection of a user, as OnlineStatus reports it.
type PlatformConn struct {
	PlatformID   int
	ConnID       string
	IsBackground bool
}

// Hub is the registry of this process's live connections (userID -> one connection per platform) and
// the WebSocket endpoint that fills it (ServeHTTP). It implements chat.Pusher (Deliver, Kick).
type Hub struct {
	opts      Options
	connHooks ConnHooks // opts.Hooks, when it implements ConnHooks
	log       *slog.Logger
	m         *metrics
	shards    [numShards]shard
	count     atomic.Int64
	closing   atomic.Bool
	idPrefix  string
	idSeq     atomic.Uint64
	poll      *poller   // nil: every connection keeps a reader goroutine (Options.ReaderPerConn, not Linux)
	readPool  sync.Pool // *[]byte of ReadBufferSize, lent to a pollConn while it holds bytes read ahead
}

type shard struct {
	mu    sync.RWMutex
	users map[string][]*conn // guarded by mu; at most one conn per platformID

	// Presence events wait here, in the order mu saw the changes, until one goroutine (hooking) hands
	// them to Hooks with no lock held. evMu nests inside mu and guards only these fields.
	evMu    sync.Mutex
	events  []presence
	hooking bool
}

// presence is a registry change for Hooks/ConnHooks.
type presence struct {
	kind presenceKind
	info ConnInfo
}

type presenceKind uint8

const (
	online presenceKind = iota
	connected
	disconnected
	offline
)

// New returns a Hub ready to serve; it fails only on missing required options or when the metrics
// cannot be registered.
func New(opts Options) (*Hub, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("gateway metrics: %w", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	h := &Hub{opts: opts, log: opts.Log, m: m, idPrefix: hex.EncodeToString(b[:]) + "-"}
	h.connHooks, _ = opts.Hooks.(ConnHooks)
	for i := range h.shards {
		h.shards[i].users = make(map[string][]*conn)
	}
	h.readPool.New = func() any { b := make([]byte, opts.ReadBufferSize); return &b }
	if !opts.ReaderPerConn {
		if h.poll, err = newPoller(); err != nil {
			h.log.Warn("gateway: no poller for idle connections; each keeps a reader goroutine", "err", err)
		}
	}
	return h, nil
}

func (h *Hub) shard(userID string) *shard {
	// FNV-1a, inline so that a lookup allocates nothing.
	x := uint32(2166136261)
	for i := 0; i < len(userID); i++ {
		x ^= uint32(userID[i])
		x *= 16777619
	}
	return &h.shards[x%numShards]
}

func (h *Hub) newConnID() string {
	return h.idPrefix + strconv.FormatUint(h.idSeq.Add(1), 36)
}

// Deliver queues frame on every connection of every user in userIDs except the one whose ConnID is
// exceptConnID (empty: none). It never blocks: a connection whose queue is full is closed with 1008
// "slow consumer" instead. frame is shared by all recipients and must not be modified afterwards;
// userIDs should hold each user once.
func (h *Hub) Deliver(userIDs []string, frame []byte, exceptConnID string) {
	h.deliver(userIDs, frame, exceptConnID, false, nil)
}

// DeliverBatch is Deliver for each push fill passes to deliver, in order; the writers of the connections
// that had none start once fill returns, so a connection gets the batch's pushes in one write(2) rather than
// the first one alone.
func (h *Hub) DeliverBatch(fill func(deliver func(userIDs []string, frame []byte, exceptConnID string))) {
	var starts []*conn
	defer func() { // even if fill panics: a connection marked as having a writer must get one
		for _, c := range starts {
			go c.writeLoop()
		}
	}()
	fill(func(userIDs []string, frame []byte, exceptConnID string) {
		starts = h.deliver(userIDs, frame, exceptConnID, true, starts)
	})
}

// deliver is Deliver; with deferStart, the connections whose writer is to be started are appended to
// starts (and returned) instead.
func (h *Hub) deliver(userIDs []string, frame []byte, exceptConnID string, deferStart bool, starts []*conn) []*conn {
	var sdk sdkPush // the frame for SDK-profile connections, transcoded once when one is among the recipients
	var wire []byte // frame as a WebSocket frame, built once for every recipient
	for _, id := range userIDs {
		s := h.shard(id)
		s.mu.RLock()
		for _, c := range s.users[id] {
			if c.info.ConnID == exceptConnID {
				continue
			}
			f := wire
			if c.info.SDK {
				if f = sdk.frame(h, frame); f == nil {
					continue
				}
			} else if f == nil {
				wire = wsFrame(opText, frame)
				f = wire
			}
			if !deferStart {
				c.enqueueWire(f)
			} else if c.enqueueDeferred(f) {
				starts = append(starts, c)
			}
		}
		s.mu.RUnlock()
	}
	return starts
}

// Kick ends userID's connections on platformID (0: every platform): each gets the 2002 frame with reason as
// its errMsg, then a close: 4002 CloseKicked when platformID names a platform (a newer login replaced it),
// 4003 CloseForbidden when it is 0 (the user is shut out everywhere). KickCode picks the code. The
// connections leave the registry at once, so IsOnline and OnlineStatus stop reporting them before their
// sockets finish closing.
func (h *Hub) Kick(userID string, platformID int, reason string) {
	code := CloseKicked
	if platformID == 0 {
		code = CloseForbidden
	}
	h.KickCode(userID, platformID, code, reason)
}

// KickCode is Kick with an explicit close code.
func (h *Hub) KickCode(userID string, platformID int, code websocket.StatusCode, reason string) {
	h.KickWhere(userID, platformID, code, reason, nil)
}

// KickWhere is KickCode for the connections victim picks (nil: all).
func (h *Hub) KickWhere(userID string, platformID int, code websocket.StatusCode, reason string, victim func(ConnInfo) bool) {
	s := h.shard(userID)
	var victims []*conn
	s.mu.Lock()
	list := s.users[userID]
	kept := list[:0]
	for _, c := range list {
		if (platformID == 0 || c.info.PlatformID == platformID) && (victim == nil || victim(c.info)) {
			victims = append(victims, c)
			h.emit(s, disconnected, c)
		} else {
			kept = append(kept, c)
		}
	}
	if len(victims) > 0 {
		clear(list[len(kept):])
		if len(kept) == 0 {
			delete(s.users, userID)
			h.emit(s, offline, victims[len(victims)-1])
		} else {
			s.users[userID] = kept
		}
		h.count.Add(-int64(len(victims)))
		h.m.conns.Sub(float64(len(victims)))
	}
	s.mu.Unlock()
	h.runHooks(s)
	for _, c := range victims {
		h.m.kicks.Inc()
		c.closeAfterFlush(kickFrame(reason), code, "kicked")
	}
}

// OnlineStatus reports the live connections of each of userIDs; users with none are absent from the map.
func (h *Hub) OnlineStatus(userIDs []string) map[string][]PlatformConn {
	out := make(map[string][]PlatformConn, len(userIDs))
	for _, id := range userIDs {
		s := h.shard(id)
		s.mu.RLock()
		list := s.users[id]
		if len(list) > 0 {
			pcs := make([]PlatformConn, len(list))
			for i, c := range list {
				pcs[i] = PlatformConn{PlatformID: c.info.PlatformID, ConnID: c.info.ConnID, IsBackground: c.background.Load()}
			}
			out[id] = pcs
		}
		s.mu.RUnlock()
	}
	return out
}

// IsOnline reports whether userID has a live connection to this process.
func (h *Hub) IsOnline(userID string) bool {
	s := h.shard(userID)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.users[userID]) > 0
}

// Users lists the users with a live connection to this process.
func (h *Hub) Users() []string {
	var out []string
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.RLock()
		for u := range s.users {
			out = append(out, u)
		}
		s.mu.RUnlock()
	}
	return out
}

// Count is the number of registered connections.
func (h *Hub) Count() int { return int(h.count.Load()) }

// Close shuts the gateway down gracefully: new connections are refused, each connection's in-flight
// requests finish and their replies are written, then the connection gets a close frame (1001 "server
// shutting down"). When ctx ends first, the remaining sockets are dropped without a handshake and Close
// returns ctx's error.
func (h *Hub) Close(ctx context.Context) error {
	h.closing.Store(true)
	var all []*conn
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.RLock()
		for _, list := range s.users {
			all = append(all, list...)
		}
		s.mu.RUnlock()
	}
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Go(func() { c.shutdown(ctx) })
	}
	wg.Wait()
	h.poll.close() // a connection dropped but not yet finished keeps reading without it
	return ctx.Err()
}

// register adds c, replacing (and then kicking) the user's connection on the same platform. It fails only
// when the Hub is closing.
func (h *Hub) register(c *conn) bool {
	s := h.shard(c.info.UserID)
	s.mu.Lock()
	if h.closing.Load() { // checked under mu so that Close's snapshot cannot miss c
		s.mu.Unlock()
		return false
	}
	list := s.users[c.info.UserID]
	var old *conn
	for i, o := range list {
		if o.info.PlatformID == c.info.PlatformID {
			old, list[i] = o, c
			break
		}
	}
	if old == nil {
		if len(list) == 0 {
			h.emit(s, online, c)
		}
		s.users[c.info.UserID] = append(list, c)
		h.count.Add(1)
		h.m.conns.Inc()
	}
	h.emit(s, connected, c)
	if old != nil {
		h.emit(s, disconnected, old)
	}
	s.mu.Unlock()
	if a, ok := h.opts.Hooks.(Attacher); ok {
		a.Attach(c.info) // before the ack: see Attacher
	}
	h.runHooks(s)
	if old != nil {
		h.m.kicks.Inc()
		old.closeAfterFlush(kickFrame(reasonReplaced), CloseKicked, "kicked")
	}
	return true
}

// unregister removes c if it is still registered (a kick or a replacement may have removed it already).
func (h *Hub) unregister(c *conn) {
	s := h.shard(c.info.UserID)
	s.mu.Lock()
	list := s.users[c.info.UserID]
	i := slices.Index(list, c)
	if i < 0 {
		s.mu.Unlock()
		return
	}
	list = slices.Delete(list, i, i+1)
	h.emit(s, disconnected, c)
	if len(list) == 0 {
		delete(s.users, c.info.UserID)
		h.emit(s, offline, c)
	} else {
		s.users[c.info.UserID] = list
	}
	h.count.Add(-1)
	h.m.conns.Dec()
	s.mu.Unlock()
	h.runHooks(s)
}

// emit queues a registry change for the hooks; the caller holds s.mu, which fixes the events' order.
func (h *Hub) emit(s *shard, kind presenceKind, c *conn) {
	if h.opts.Hooks == nil || (h.connHooks == nil && (kind == connected || kind == disconnected)) {
		return
	}
	s.evMu.Lock()
	s.events = append(s.events, presence{kind: kind, info: c.info})
	s.evMu.Unlock()
}

// runHooks hands s's queued events to the hooks, in order, with no lock held. Only one goroutine per shard
// does so at a time; a goroutine that finds another one at work leaves its events to it.
func (h *Hub) runHooks(s *shard) {
	if h.opts.Hooks == nil {
		return
	}
	s.evMu.Lock()
	if s.hooking {
		s.evMu.Unlock()
		return
	}
	s.hooking = true
	for len(s.events) > 0 {
		p := s.events[0]
		s.events[0] = presence{}
		s.events = s.events[1:]
		s.evMu.Unlock()
		h.callHook(p)
		s.evMu.Lock()
	}
	s.events = nil
	s.hooking = false
	s.evMu.Unlock()
}

func (h *Hub) callHook(p presence) {
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("gateway: hook panicked", "userID", p.info.UserID, "connID", p.info.ConnID, "event", p.kind, "panic", r)
		}
	}()
	switch p.kind {
	case online:
		h.opts.Hooks.Online(p.info.UserID, p.info.PlatformID)
	case offline:
		h.opts.Hooks.Offline(p.info.UserID, p.info.PlatformID)
	case connected:
		h.connHooks.Connected(p.info)
	case disconnected:
		h.connHooks.Disconnected(p.info)
	}
}

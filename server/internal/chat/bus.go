package chat

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/bus"
)

// Catch-up after a gap in the bus.
const (
	// catchUpMargin is how far before a detected loss the catch-up looks (events in flight, clocks of
	// other nodes a little behind).
	catchUpMargin = 2 * time.Second
	// catchUpPerConv and catchUpMax bound one catch-up; beyond them clients sync by seq as after any gap.
	catchUpPerConv = 200
	catchUpMax     = 10_000
)

// SetBus connects the service to the other nodes (default: none, bus.Local).
func (s *Service) SetBus(b bus.Bus) { s.bus = b }

// pushOnline delivers a frame that is never stored (typing, online-only, presence) here and, through the
// bus, on the nodes that hold the recipients.
func (s *Service) pushOnline(recipients []string, frame []byte, exceptConn string) {
	if s.pusher != nil {
		s.pusher.Deliver(recipients, frame, exceptConn)
	}
	s.bus.Publish(&bus.Event{Kind: bus.KindPush, Recipients: recipients, Frame: frame, Except: exceptConn})
}

// Kick closes a user's connections on platformID (0 = all) on every node.
func (s *Service) Kick(ctx context.Context, userID string, platformID int, reason string) error {
	if s.pusher != nil {
		s.pusher.Kick(userID, platformID, reason)
	}
	s.bus.Publish(&bus.Event{Kind: bus.KindKick, UserID: userID, PlatformID: platformID, Reason: reason})
	return nil
}

// KickOlder closes a user's connections on platformID here, and on the other nodes those that registered
// before `before` (µs): a newer login's kick travels asynchronously, so it may reach another node after the
// new token's own connection registered there, which it must not close.
func (s *Service) KickOlder(ctx context.Context, userID string, platformID int, reason string, before int64) error {
	if s.pusher != nil {
		s.pusher.Kick(userID, platformID, reason)
	}
	s.bus.Publish(&bus.Event{Kind: bus.KindKick, UserID: userID, PlatformID: platformID, Reason: reason, Before: before})
	return nil
}

// BusHandler is what this node does with the other nodes' events.
func (s *Service) BusHandler() bus.Handler { return busHandler{s} }

type busHandler struct{ s *Service }

// Handle delivers another node's event to this node's connections. A stored message is pushed once,
// whichever of its event and a catch-up comes first.
func (h busHandler) Handle(e *bus.Event) {
	s := h.s
	if s.pusher == nil {
		return
	}
	switch e.Kind {
	case bus.KindPush:
		if e.Seq > 0 && s.pushed.mark(e.Conv, e.Seq, byEvent) == byCatchUp {
			return
		}
		s.pusher.Deliver(e.Recipients, e.Frame, e.Except)
	case bus.KindKick:
		s.pusher.Kick(e.UserID, e.PlatformID, e.Reason)
	}
}

// Resync catches up after this node may have missed events since a time: it pushes the
// messages stored since then that it has not pushed, and closes the connections of users forbidden
// meanwhile. Online-only pushes of the gap (typing, presence) are lost. Resyncs do not overlap; one asked
// for during another runs after it.
func (h busHandler) Resync(since time.Time) {
	s := h.s
	if s.pusher == nil {
		return
	}
	s.resyncMu.Lock()
	defer s.resyncMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.catchUp(ctx, since.Add(-catchUpMargin)); err != nil {
		s.log.Warn("resync after a bus gap failed; clients sync by seq", "err", err)
	}
	s.kickForbidden(ctx)
}

// deliverStored pushes stored messages to their recipients' connections here, each message once.
func (s *Service) deliverStored(ctx context.Context, msgs []db.Message) {
	members := map[string][]string{}
	for _, m := range msgs {
		if s.pushed.mark(m.ConversationID, m.Seq, byCatchUp) != notPushed {
			continue // pushed already (by the catch-up, or stored here)
		}
		var to []string
		switch m.SessionType {
		case SingleChat:
			to = uniq([]string{m.SendID, m.RecvID})
		case NotificationChat:
			to = []string{m.RecvID}
		default:
			ms, ok := members[m.GroupID]
			if !ok {
				var err error
				if ms, err = s.q.GroupMemberIDs(ctx, m.GroupID); err != nil && err != pgx.ErrNoRows {
					s.log.Warn("relay: group members", "group", m.GroupID, "err", err)
					return
				}
				members[m.GroupID] = ms
			}
			to = ms
		}
		s.pusher.Deliver(to, PushFrame(ToWire(m), ""), "")
	}
}

// catchUp pushes to this process's connections the messages stored since a time that it has not pushed.
func (s *Service) catchUp(ctx context.Context, since time.Time) error {
	t0 := time.Now()
	msgs, err := s.q.RecentMessages(ctx, db.RecentMessagesParams{Since: since.UnixMilli(), PerConv: catchUpPerConv, MaxRows: catchUpMax})
	if err != nil {
		return fmt.Errorf("catch-up after a bus gap: %w", err)
	}
	s.deliverStored(ctx, msgs)
	s.log.Info("caught up after a bus gap", "since", since.UTC().Format(time.RFC3339Nano), "messages", len(msgs), "in", time.Since(t0).Round(time.Millisecond))
	return nil
}

// kickForbidden closes the connections here of users forbidden meanwhile: a forbid's kick published during a
// bus gap is lost. (Their sends are refused by the writer whatever reached this process.)
func (s *Service) kickForbidden(ctx context.Context) {
	lister, ok := s.pusher.(interface{ Users() []string })
	if !ok {
		return
	}
	users := lister.Users()
	for len(users) > 0 {
		n := min(len(users), 10_000)
		ids, err := s.q.ForbiddenAmong(ctx, users[:n])
		if err != nil {
			s.log.Warn("after a bus gap: reading forbidden users failed", "err", err)
			return
		}
		for _, u := range ids {
			s.pusher.Kick(u, 0, ForbiddenKickReason)
		}
		users = users[n:]
	}
}

// ForbiddenKickReason is the close reason of a forbidden user's connections (as /manager/forbid_user gives it).
const ForbiddenKickReason = "this user has been forbidden"

// pushedSet remembers the (conversation, seq) of messages pushed here in the last pushedWindow, and how, so
// that the catch-up after a bus gap and the events that overlap it push each message once. Events never
// overlap each other (one message's events name disjoint recipients: one per recipient, or chunks of a big
// list), so they are only checked against the catch-up: an event is dropped when the catch-up pushed its
// message, and the catch-up skips a message an event (or this node's own commit) pushed. (An event for one
// recipient arriving while another's was lost in the gap makes the catch-up skip the message: that recipient
// finds it by seq.)
type pushedSet struct {
	mu    sync.Mutex
	seen  map[convSeq]pushedBy
	order []pushedAt // insertion order, for pruning; order[head:] are live
	head  int
}

// pushedBy says how a message was pushed here.
type pushedBy uint8

const (
	notPushed pushedBy = iota
	byEvent            // this node's commit, or an event of another node
	byCatchUp
)

type convSeq struct {
	conv string
	seq  int64
}

type pushedAt struct {
	k  convSeq
	at time.Time
}

const (
	pushedWindow = 30 * time.Second
	pushedMax    = 200_000
)

// mark records that a message was pushed by how, unless it was already, and returns how it was before
// (notPushed: it was new).
func (p *pushedSet) mark(conv string, seq int64, how pushedBy) pushedBy {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[convSeq]pushedBy{}
	}
	k := convSeq{conv, seq}
	if prev, ok := p.seen[k]; ok {
		return prev
	}
	p.seen[k] = how
	p.order = append(p.order, pushedAt{k, now})
	for p.head < len(p.order) && (now.Sub(p.order[p.head].at) > pushedWindow || len(p.order)-p.head > pushedMax) {
		delete(p.seen, p.order[p.head].k)
		p.head++
	}
	if p.head > len(p.order)/2 {
		p.order = append(p.order[:0], p.order[p.head:]...) // amortised: at most once per doubling
		p.head = 0
	}
	return notPushed
}

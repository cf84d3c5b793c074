package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/db"
)

// maxNotifyPayload keeps NOTIFY payloads under PostgreSQL's 8000-byte limit.
const maxNotifyPayload = 7900

// Listener reconnection and catch-up.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 5 * time.Second
	// listenHealthy is how long a LISTEN connection must have lasted for the next loss to start again from
	// the shortest delay.
	listenHealthy = 10 * time.Second
	// catchUpMargin is how far before a detected loss the catch-up looks (wake-ups in flight, clocks of
	// other processes a little behind).
	catchUpMargin = 2 * time.Second
	// catchUpPerConv and catchUpMax bound one catch-up; beyond them clients sync by seq as after any gap.
	catchUpPerConv = 200
	catchUpMax     = 10_000
)

// pushOnline delivers a frame that is never stored (typing, online-only, presence) here and, through
// NOTIFY, in the other processes.
func (s *Service) pushOnline(recipients []string, frame []byte, exceptConn string) {
	if s.pusher != nil {
		s.pusher.Deliver(recipients, frame, exceptConn)
	}
	s.broadcast(wakeup{Kind: "push", Frame: frame, Recipients: recipients})
}

// Kick closes a user's connections on platformID (0 = all) in every process.
func (s *Service) Kick(ctx context.Context, userID string, platformID int, reason string) error {
	if s.pusher != nil {
		s.pusher.Kick(userID, platformID, reason)
	}
	s.broadcast(wakeup{Kind: "kick", UserID: userID, PlatformID: platformID, Reason: reason})
	return nil
}

// broadcast relays w to the other processes, its recipients split over as many NOTIFYs as the payload
// limit needs, so a big group's push is never dropped for its size.
func (s *Service) broadcast(w wakeup) {
	w.Origin = s.origin
	var payloads []string
	all := w.Recipients
	for {
		w.Recipients = all
		b := mustJSON(w)
		n := len(all)
		for len(b) > maxNotifyPayload && n > 1 {
			n /= 2
			w.Recipients = all[:n]
			b = mustJSON(w)
		}
		if len(b) > maxNotifyPayload {
			s.log.Warn("online-only frame too large to relay to other processes; delivered locally only", "bytes", len(b))
			return
		}
		payloads = append(payloads, string(b))
		all = all[n:]
		if len(all) == 0 {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.q.NotifyAll(ctx, db.NotifyAllParams{Channel: NotifyChannel, Payloads: payloads}); err != nil {
		s.log.Warn("relay to other processes failed", "err", err)
	}
}

// Listen relays other processes' events to this process's connections until ctx ends. After the LISTEN
// connection is lost and back, the process pushes to its connections the messages stored while it was deaf
// (catchUp). Online-only pushes (typing, presence) of the gap are lost; kicks of the gap too, which is why
// a forbidden user's sends are refused by the writer whatever reached this process.
func (s *Service) Listen(ctx context.Context) {
	backoff := listenMinBackoff
	var lost time.Time // zero before the first LISTEN: nothing was missed
	for ctx.Err() == nil {
		began := time.Now()
		listened, err := s.listenOnce(ctx, lost)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) >= listenHealthy {
			backoff = listenMinBackoff
		}
		if listened || lost.IsZero() {
			lost = time.Now() // else a failed reconnect: the gap began at the earlier loss
		}
		s.log.Warn("LISTEN connection lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, listenMaxBackoff)
	}
}

// listenOnce listens on one connection until it fails; listened reports that it got as far as listening
// (and catching up), so that a next gap begins when this connection was lost.
func (s *Service) listenOnce(ctx context.Context, lost time.Time) (listened bool, _ error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return false, err
	}
	defer func() {
		// The connection goes back to the pool: stop listening on it.
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _ = conn.Exec(c, "UNLISTEN *")
		cancel()
	}()
	if !lost.IsZero() && s.pusher != nil {
		// Listening again: whatever commits from now on wakes us; what committed during the gap is read here.
		if err := s.catchUp(ctx, lost.Add(-catchUpMargin)); err != nil {
			return false, err // listen again, and catch up from the same point
		}
		s.kickForbidden(ctx)
	}
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		var w wakeup
		if json.Unmarshal([]byte(n.Payload), &w) != nil || w.Origin == s.origin || s.pusher == nil {
			continue
		}
		switch w.Kind {
		case "msg":
			s.relayStored(ctx, w)
		case "msgx":
			s.relayExtra(ctx, w)
		case "push":
			s.pusher.Deliver(w.Recipients, w.Frame, "")
		case "kick":
			s.pusher.Kick(w.UserID, w.PlatformID, w.Reason)
		}
	}
}

// relayStored reads messages another process stored and pushes them to this process's connections.
func (s *Service) relayStored(ctx context.Context, w wakeup) {
	msgs, err := s.q.MessagesBySeqRange(ctx, db.MessagesBySeqRangeParams{ConversationID: w.Conv, BeginSeq: w.Begin, EndSeq: w.End})
	if err != nil {
		s.log.Warn("relay: read messages", "conv", w.Conv, "err", err)
		return
	}
	s.deliverStored(ctx, msgs)
}

// relayExtra pushes a stored message to recipients beyond the conversation's members.
func (s *Service) relayExtra(ctx context.Context, w wakeup) {
	m, err := s.q.MessageBySeq(ctx, db.MessageBySeqParams{ConversationID: w.Conv, Seq: w.Begin})
	if err != nil {
		s.log.Warn("relay: read message", "conv", w.Conv, "seq", w.Begin, "err", err)
		return
	}
	s.pusher.Deliver(w.Recipients, PushFrame(ToWire(m), ""), "")
}

// deliverStored pushes stored messages to their recipients' connections here, each message once.
func (s *Service) deliverStored(ctx context.Context, msgs []db.Message) {
	members := map[string][]string{}
	for _, m := range msgs {
		if !s.pushed.add(m.ConversationID, m.Seq) {
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
		return fmt.Errorf("catch-up after a LISTEN gap: %w", err)
	}
	s.deliverStored(ctx, msgs)
	s.log.Info("caught up after a LISTEN gap", "since", since.UTC().Format(time.RFC3339Nano), "messages", len(msgs), "in", time.Since(t0).Round(time.Millisecond))
	return nil
}

// kickForbidden closes the connections here of users forbidden meanwhile: a forbid's kick relayed during a
// LISTEN gap is lost. (Their sends are refused by the writer whatever reached this process.)
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
			s.log.Warn("after a LISTEN gap: reading forbidden users failed", "err", err)
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

// pushedSet remembers the (conversation, seq) of messages pushed here in the last pushedWindow, so the
// catch-up after a LISTEN gap and the wake-ups that overlap it push each message once.
type pushedSet struct {
	mu    sync.Mutex
	seen  map[convSeq]struct{}
	order []pushedAt // insertion order, for pruning; order[head:] are live
	head  int
}

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

// add records k and reports whether it was new.
func (p *pushedSet) add(conv string, seq int64) bool {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[convSeq]struct{}{}
	}
	k := convSeq{conv, seq}
	if _, ok := p.seen[k]; ok {
		return false
	}
	p.seen[k] = struct{}{}
	p.order = append(p.order, pushedAt{k, now})
	for p.head < len(p.order) && (now.Sub(p.order[p.head].at) > pushedWindow || len(p.order)-p.head > pushedMax) {
		delete(p.seen, p.order[p.head].k)
		p.head++
	}
	if p.head > len(p.order)/2 {
		p.order = append(p.order[:0], p.order[p.head:]...) // amortised: at most once per doubling
		p.head = 0
	}
	return true
}

package chat

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/db"
)

// maxNotifyPayload keeps NOTIFY payloads under PostgreSQL's 8000-byte limit.
const maxNotifyPayload = 7900

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

func (s *Service) broadcast(w wakeup) {
	w.Origin = s.origin
	b := mustJSON(w)
	if len(b) > maxNotifyPayload {
		s.log.Warn("online-only frame too large to relay to other processes; delivered locally only", "bytes", len(b))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", NotifyChannel, string(b)); err != nil {
		s.log.Warn("relay to other processes failed", "err", err)
	}
}

// Listen relays other processes' events to this process's connections until ctx ends. A gap while it
// reconnects loses only pushes, never messages: clients fill gaps with GET_NEWEST_SEQ / PULL_MSG_BY_SEQ.
func (s *Service) Listen(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("LISTEN connection lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Service) listenOnce(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return err
	}
	defer func() {
		// The connection goes back to the pool: stop listening on it.
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _ = conn.Exec(c, "UNLISTEN *")
		cancel()
	}()
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var w wakeup
		if json.Unmarshal([]byte(n.Payload), &w) != nil || w.Origin == s.origin || s.pusher == nil {
			continue
		}
		switch w.Kind {
		case "msg", "msgx":
			s.relayStored(ctx, w)
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
	var members []string
	for _, m := range msgs {
		var to []string
		if w.Kind == "msgx" { // users beyond the members, who get this message too (see Service.wakeups)
			s.pusher.Deliver(w.Recipients, PushFrame(ToWire(m), ""), "")
			continue
		}
		switch m.SessionType {
		case SingleChat:
			to = uniq([]string{m.SendID, m.RecvID})
		case NotificationChat:
			to = []string{m.RecvID}
		default:
			if members == nil {
				if members, err = s.q.GroupMemberIDs(ctx, m.GroupID); err != nil && err != pgx.ErrNoRows {
					s.log.Warn("relay: group members", "group", m.GroupID, "err", err)
					return
				}
			}
			to = members
			if x := w.Extra[m.Seq]; len(x) > 0 {
				to = uniq(append(append([]string(nil), members...), x...))
			}
		}
		s.pusher.Deliver(to, PushFrame(ToWire(m), ""), "")
	}
}

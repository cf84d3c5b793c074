package chat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/apierr"
)

// DefaultWriteTimeout bounds one transaction of the message writer.
const DefaultWriteTimeout = 30 * time.Second

// unsureTTL is how long a message whose COMMIT went unanswered is looked for; a database stalled longer
// than this gets its messages pushed only through the clients' own sync (they are stored and pullable).
const unsureTTL = 10 * time.Minute

// commitUnknownError is a COMMIT that was sent but not answered: the transaction may have committed.
type commitUnknownError struct{ err error }

func (e *commitUnknownError) Error() string { return "commit outcome unknown: " + e.err.Error() }
func (e *commitUnknownError) Unwrap() error { return e.err }

type unsureMsg struct {
	p     *pending
	since time.Time
}

// rememberUnsure keeps the messages of a batch whose commit outcome is unknown, then looks for them in the
// background until they are found or unsureTTL passes.
func (w *Writer) rememberUnsure(batch []*pending) {
	w.unsureMu.Lock()
	defer w.unsureMu.Unlock()
	now := time.Now()
	for _, p := range batch {
		if p.err != nil || p.dup {
			continue // refused, or stored by an earlier transaction (and pushed then)
		}
		w.unsure[key(p.msg.SendID, p.msg.ClientMsgID)] = &unsureMsg{p: p, since: now}
	}
	if !w.resolving && len(w.unsure) > 0 {
		w.resolving = true
		go w.resolveUnsure()
	}
}

// takeUnsure removes and returns the message of k if its outcome was unknown: the caller pushes it.
func (w *Writer) takeUnsure(k string) *pending {
	w.unsureMu.Lock()
	defer w.unsureMu.Unlock()
	u := w.unsure[k]
	if u == nil {
		return nil
	}
	delete(w.unsure, k)
	return u.p
}

// errUnsureCommitted: a message retried in this transaction was committed by its earlier, unanswered one.
var errUnsureCommitted = errors.New("a message of an unanswered COMMIT turned out committed; retrying the batch")

// settleUnsure runs once the batch holds its conversations' seq rows. A message about to be stored again
// whose earlier COMMIT went unanswered: that transaction held the same seq row, so it has ended by now and
// FindSent sees whether it committed. If it did, the batch is retried (and finds it a duplicate); if not,
// the message is no longer unsure, and this transaction stores and pushes it.
func (w *Writer) settleUnsure(ctx context.Context, q *db.Queries, byConv map[string][]*pending) error {
	var keys []string
	var sendIDs, clientIDs []string
	w.unsureMu.Lock()
	if len(w.unsure) > 0 {
		for _, ps := range byConv {
			for _, p := range ps {
				k := key(p.msg.SendID, p.msg.ClientMsgID)
				if _, ok := w.unsure[k]; ok {
					keys = append(keys, k)
					sendIDs, clientIDs = append(sendIDs, p.msg.SendID), append(clientIDs, p.msg.ClientMsgID)
				}
			}
		}
	}
	w.unsureMu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	found, err := q.FindSent(ctx, db.FindSentParams{SendIds: sendIDs, ClientMsgIds: clientIDs})
	if err != nil {
		return fmt.Errorf("find sent: %w", err)
	}
	if len(found) > 0 {
		return errUnsureCommitted
	}
	for _, k := range keys {
		w.takeUnsure(k) // not committed: this transaction stores it, and pushStored pushes it
	}
	return nil
}

// pushResolved pushes the messages of a committed batch that turned out to be stored by a transaction
// whose outcome was unknown (the sender retried with the same clientMsgID): nobody pushed them yet.
func (w *Writer) pushResolved(batch []*pending) {
	for _, p := range batch {
		if !p.dup {
			continue
		}
		if orig := w.takeUnsure(key(p.msg.SendID, p.msg.ClientMsgID)); orig != nil {
			w.pushFound(orig, p.stored)
		}
	}
}

func (w *Writer) pushFound(orig *pending, m db.Message) {
	w.log.Info("message of an unanswered COMMIT is stored; pushing it", "conversationID", m.ConversationID, "seq", m.Seq)
	q := *orig
	q.stored, q.dup, q.err, q.done = m, false, nil, nil
	if w.after != nil {
		w.after([]*pending{&q})
	}
}

// resolveUnsure looks for the unsure messages once a second until each is found stored (then pushed) or
// has waited unsureTTL, or the writer closes.
func (w *Writer) resolveUnsure() {
	delay := 200 * time.Millisecond
	for {
		select {
		case <-w.closed:
			w.unsureMu.Lock()
			w.resolving = false
			w.unsureMu.Unlock()
			return
		case <-time.After(delay):
		}
		delay = time.Second
		w.unsureMu.Lock()
		var sendIDs, clientIDs []string
		for k, u := range w.unsure {
			if time.Since(u.since) > unsureTTL {
				w.log.Warn("gave up looking for a message of an unanswered COMMIT; clients get it by syncing if it was stored",
					"sendID", u.p.msg.SendID, "clientMsgID", u.p.msg.ClientMsgID)
				delete(w.unsure, k)
				continue
			}
			sendIDs, clientIDs = append(sendIDs, u.p.msg.SendID), append(clientIDs, u.p.msg.ClientMsgID)
		}
		if len(sendIDs) == 0 {
			w.resolving = false
			w.unsureMu.Unlock()
			return
		}
		w.unsureMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		found, err := db.New(w.pool).FindSent(ctx, db.FindSentParams{SendIds: sendIDs, ClientMsgIds: clientIDs})
		cancel()
		if err != nil {
			continue // the database is still away
		}
		for _, m := range found {
			if orig := w.takeUnsure(key(m.SendID, m.ClientMsgID)); orig != nil {
				w.pushFound(orig, m)
			}
		}
	}
}

// writeHealth is the outcome of the latest writes, for readiness.
type writeHealth struct {
	mu            sync.Mutex
	lastOK, lastF time.Time
	lastErr       error
}

// record notes a transaction's outcome; only the database's own failures count against it.
func (h *writeHealth) record(err error) {
	var unknown *commitUnknownError
	if err != nil && !apierr.IsStorage(err) && !errors.As(err, &unknown) {
		return
	}
	h.recordAny(err)
}

func (h *writeHealth) recordAny(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.lastOK = time.Now()
	} else {
		h.lastF, h.lastErr = time.Now(), err
	}
}

// failing reports the latest storage failure when no write succeeded after it.
func (h *writeHealth) failing() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lastErr != nil && !h.lastF.Before(h.lastOK) {
		return h.lastErr
	}
	return nil
}

// probeConversation is the conversation_seqs row the write probe updates; no conversation has this ID (they
// start with single_, group_ or notification_), so nothing reads it.
const probeConversation = " write probe"

// ProbeWrite commits a one-row write, bounded by ctx, and notes its outcome with the message writes': the
// database accepts writes (it is up, not read-only, not stalled) when it succeeds. deep also writes new
// pages (a temporary table dropped at commit), as a message insert does: an update of one row fits in its
// page and succeeds on a full disk, where every insert that needs a new page fails.
func (s *Service) ProbeWrite(ctx context.Context, deep bool) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO conversation_seqs (conversation_id, max_seq_time) VALUES ($1, $2)
			ON CONFLICT (conversation_id) DO UPDATE SET max_seq_time = EXCLUDED.max_seq_time`, probeConversation, s.nowMS()); err != nil {
			return err
		}
		if deep {
			_, err := tx.Exec(ctx, `CREATE TEMP TABLE imserver_write_probe ON COMMIT DROP AS
				SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 64) g`)
			return err
		}
		return nil
	})
	s.w.health.recordAny(err) // any failure of these fixed statements is the database's (53100 disk full, 25006 read-only)
	return err
}

// WriteFailure is the latest storage failure of the message writes or the write probe when nothing was
// written successfully since, or nil.
func (s *Service) WriteFailure() error { return s.w.health.failing() }

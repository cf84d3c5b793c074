package presence

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/chat"
)

// conn is a connection of this process, as much of it as the registry needs.
type conn struct {
	id         string
	platformID int
	opID       string
}

// userState is one user's connections in this process: live (the gateway's view, in the order they
// opened), written (the rows in the database), gone (written rows whose connection has closed, in the
// order they closed). The worker's job is to insert live-but-unwritten rows and delete gone ones.
type userState struct {
	live    []conn
	written []conn // a slice, not a map: a user has a connection or two, and a map costs ~0.5 KiB each
	gone    []conn
	queued  bool
}

func (st *userState) isLive(id string) bool { return index(st.live, id) >= 0 }

func index(cs []conn, id string) int {
	for i, c := range cs {
		if c.id == id {
			return i
		}
	}
	return -1
}

// unwrite forgets id's row.
func (st *userState) unwrite(id string) {
	if i := index(st.written, id); i >= 0 {
		st.written = slices.Delete(st.written, i, i+1) // clears the freed slot: no strings kept alive
	}
}

// worker applies the changes of its share of the users, one user at a time, in the order they were
// marked. mu guards users and queue; the database work runs without it.
type worker struct {
	p     *Presence
	mu    sync.Mutex
	users map[string]*userState
	queue []string // users with queued set
	wake  chan struct{}
}

// state returns userID's state, creating it; w.mu held.
func (w *worker) state(userID string) *userState {
	st := w.users[userID]
	if st == nil {
		st = &userState{}
		w.users[userID] = st
	}
	return st
}

// mark queues userID for the worker; w.mu held.
func (w *worker) mark(userID string, st *userState) {
	if st.queued {
		return
	}
	st.queued = true
	w.queue = append(w.queue, userID)
	w.poke()
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// forgetIfIdle drops a state with nothing in it and nothing to do; w.mu held.
func (w *worker) forgetIfIdle(userID string, st *userState) {
	if len(st.live) == 0 && len(st.written) == 0 && !st.queued {
		delete(w.users, userID)
	}
}

func (w *worker) run() {
	backoff := time.Duration(0)
	for {
		userID, ins, del, ok := w.next()
		if !ok {
			return
		}
		err := w.p.sync(userID, ins, del)
		w.done(userID, ins, del, err)
		if err == nil {
			backoff = 0
			continue
		}
		if w.p.ctx.Err() != nil {
			return
		}
		backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
		w.p.opts.Log.Warn("presence: registry write failed; retrying", "userID", userID, "in", backoff, "err", err)
		select {
		case <-time.After(backoff):
		case <-w.p.ctx.Done():
			return
		}
	}
}

// next waits for a user with work and returns the rows to insert and delete. ok is false when the worker
// must stop: on hard stop, or once idle after Close began.
func (w *worker) next() (userID string, ins, del []conn, ok bool) {
	for {
		w.mu.Lock()
		for len(w.queue) > 0 {
			userID, w.queue = w.queue[0], w.queue[1:]
			st := w.users[userID]
			if st == nil {
				continue
			}
			st.queued = false
			for _, c := range st.live {
				if index(st.written, c.id) < 0 {
					ins = append(ins, c)
				}
			}
			del = append([]conn(nil), st.gone...)
			if len(ins) == 0 && len(del) == 0 {
				w.forgetIfIdle(userID, st)
				continue
			}
			if len(w.queue) == 0 {
				w.queue = nil // let the backing array go
			}
			w.mu.Unlock()
			return userID, ins, del, true
		}
		w.mu.Unlock()
		if w.p.draining.Load() || w.p.ctx.Err() != nil {
			return "", nil, nil, false
		}
		select {
		case <-w.wake:
		case <-w.p.ctx.Done():
			return "", nil, nil, false
		}
	}
}

// done records the outcome of sync; on failure the user is queued again.
func (w *worker) done(userID string, ins, del []conn, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.state(userID)
	if err != nil {
		w.mark(userID, st)
		return
	}
	for _, c := range ins {
		if index(st.written, c.id) < 0 {
			st.written = append(st.written, c)
		}
		if !st.isLive(c.id) { // it closed while its row was being written
			st.gone = append(st.gone, c)
			w.mark(userID, st)
		}
	}
	for _, c := range del {
		st.unwrite(c.id)
		for i, g := range st.gone {
			if g.id == c.id {
				st.gone = append(st.gone[:i], st.gone[i+1:]...)
				break
			}
		}
	}
	w.forgetIfIdle(userID, st)
}

// rewriteAll makes every worker write all its live connections again (after this process was presumed
// dead and may have lost its rows). Rows still there are left alone (ON CONFLICT DO NOTHING).
func (p *Presence) rewriteAll() {
	for _, w := range p.workers {
		w.mu.Lock()
		for u, st := range w.users {
			for _, c := range st.live {
				st.unwrite(c.id)
			}
			w.mark(u, st)
		}
		w.mu.Unlock()
	}
}

// sync writes one user's changes in one transaction under the user's lock: inserts first (so that a
// connection replacing another is never taken for the last one closing), then deletes, then the
// announcement if the user's count of live connections in all processes went from 0 or to 0.
func (p *Presence) sync(userID string, ins, del []conn) error {
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.Timeout)
	defer cancel()
	return p.inTx(ctx, func(q *db.Queries) error {
		if err := q.LockPresenceUser(ctx, userID); err != nil {
			return err
		}
		var online, offline *conn
		for i := range ins {
			c := &ins[i]
			r, err := q.InsertPresenceConn(ctx, db.InsertPresenceConnParams{
				ConnID: c.id, ProcessID: p.id, UserID: userID, PlatformID: int32(c.platformID), OperationID: c.opID, TtlMs: p.ttlMS,
			})
			if err != nil {
				return err
			}
			if r.Inserted == 1 && r.Others == 0 {
				online = c
			}
		}
		for i := range del {
			c := &del[i]
			r, err := q.DeletePresenceConn(ctx, db.DeletePresenceConnParams{ConnID: c.id, UserID: userID, TtlMs: p.ttlMS})
			if err != nil {
				return err
			}
			if r.Deleted == 1 && r.Others == 0 {
				offline = c
			}
		}
		switch {
		case online != nil:
			return p.announce(ctx, q, userID, StatusOnline, *online)
		case offline != nil:
			return p.announce(ctx, q, userID, StatusOffline, *offline)
		}
		return nil
	})
}

// settle deletes userID's rows of dead (or vanished) processes and announces "offline" when the user has
// no live connection left. With try it skips (false) a user whose lock is taken: whoever holds it is
// changing the user's rows now, and the next round will see.
func (p *Presence) settle(ctx context.Context, userID string, try bool) (bool, error) {
	settled := false
	err := p.inTx(ctx, func(q *db.Queries) error {
		if try {
			ok, err := q.TryLockPresenceUser(ctx, userID)
			if err != nil || !ok {
				return err
			}
		} else if err := q.LockPresenceUser(ctx, userID); err != nil {
			return err
		}
		settled = true
		r, err := q.DeleteDeadPresenceConns(ctx, db.DeleteDeadPresenceConnsParams{UserID: userID, TtlMs: p.ttlMS})
		if err != nil || r.Deleted == 0 || r.Others > 0 {
			return err
		}
		return p.announce(ctx, q, userID, StatusOffline, conn{platformID: int(r.PlatformID), opID: r.OperationID})
	})
	return settled && err == nil, err
}

// announce pushes 1304 to the user's friends (in every process), from inside the transaction that holds
// the user's lock.
func (p *Presence) announce(ctx context.Context, q *db.Queries, userID string, status int32, c conn) error {
	friends, err := q.FriendOwnersOf(ctx, userID)
	if err != nil {
		return fmt.Errorf("friends of %s: %w", userID, err)
	}
	nctx := chat.WithOperationID(ctx, c.opID)
	for _, f := range friends {
		tips := events.UserStatusChangeTips{FromUserID: userID, ToUserID: f, Status: status, PlatformID: int32(c.platformID)}
		p.notify.NotifyOnlineCtx(nctx, events.UserStatusChange, userID, tips, []string{f})
	}
	return nil
}

func (p *Presence) inTx(ctx context.Context, f func(q *db.Queries) error) error {
	tx, err := p.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if err := f(p.q.WithTx(tx)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// heartbeat refreshes the process's row every Heartbeat. When the row turns out to have been missing or
// expired (the database was out of reach for longer than the TTL), other processes may have removed this
// process's connections: they are written again.
func (p *Presence) heartbeat() {
	t := time.NewTicker(p.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-p.bgStop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(p.ctx, p.opts.Timeout)
		wasDead, err := p.q.TouchPresenceProcess(ctx, db.TouchPresenceProcessParams{ProcessID: p.id, TtlMs: p.ttlMS})
		cancel()
		switch {
		case err != nil:
			p.opts.Log.Warn("presence: heartbeat failed", "processID", p.id, "err", err)
		case wasDead:
			p.opts.Log.Warn("presence: this process was presumed dead; writing its connections again", "processID", p.id)
			p.rewriteAll()
		}
	}
}

// reaper removes the connections of dead processes: at start every row whose process is dead or has no
// row, then every Heartbeat (with jitter, so that the processes do not all go at once) the rows of the
// processes that have just died.
func (p *Presence) reaper() {
	p.reap(true)
	for {
		d := p.opts.Heartbeat/2 + rand.N(p.opts.Heartbeat)
		select {
		case <-p.bgStop:
			return
		case <-time.After(d):
		}
		p.reap(false)
	}
}

func (p *Presence) reap(full bool) {
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	go func() {
		select {
		case <-p.bgStop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var users []string
	var err error
	if full {
		users, err = p.q.PresenceUsersOfDeadConns(ctx, p.ttlMS)
	} else {
		var dead []string
		if dead, err = p.q.DeadPresenceProcesses(ctx, p.ttlMS); err == nil && len(dead) > 0 {
			users, err = p.q.PresenceUsersOfProcesses(ctx, dead)
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			p.opts.Log.Warn("presence: looking for dead processes failed", "err", err)
		}
		return
	}
	for _, u := range users {
		uctx, ucancel := context.WithTimeout(ctx, p.opts.Timeout)
		_, err := p.settle(uctx, u, true)
		ucancel()
		if err != nil {
			if ctx.Err() == nil {
				p.opts.Log.Warn("presence: removing a dead process's connections failed", "userID", u, "err", err)
			}
			return
		}
	}
	if _, err := p.q.DeleteEmptyDeadPresenceProcesses(ctx, p.ttlMS); err != nil && ctx.Err() == nil {
		p.opts.Log.Warn("presence: forgetting dead processes failed", "err", err)
	}
}

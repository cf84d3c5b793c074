// Package presence keeps the registry of live WebSocket connections that every server process shares
// (PostgreSQL tables presence_processes and presence_conns, migration 0003), and decides from it 1304
// UserStatusChange: pushed online-only (never stored) to everyone who has the user in their friend list,
// when the user's first connection in ANY process opens (status 1) or their last one in any process closes
// (status 0), as the AsyncAPI trigger table says (`user.connections` counted over all server processes).
// The registry also answers /manager/get_users_online_status for connections of other processes
// ([Presence.Remote]).
//
// # Writes
//
// Presence implements gateway.Hooks and gateway.ConnHooks. The hooks only record the change in memory and
// wake a worker; they never touch the database, so the gateway's goroutine is never held up. The users are
// spread over a fixed set of workers (a user always goes to the same one, so their changes are applied in
// order). A worker brings the user's rows in line with the user's live connections in this process: one
// INSERT per connection opened, one DELETE per connection closed, in one transaction that first takes the
// user's advisory lock and gets back, from the same statement as the change, the count of the user's other
// connections in every live process. Only the transaction that makes the count go from 0 to 1 (or 1 to 0)
// announces, so two processes never both do. The announcement (friends lookup and pushes, which reach
// friends on every node through chat's bus) is made before that transaction commits, while the
// lock is held, so the announcements of one user leave in the order of the changes, whichever processes
// make them. (A friend connected to the process that announces second can still see the two swapped when
// the relay of the first is slower than the local delivery of the second; both follow within milliseconds.)
//
// Pending work is kept per user, not as a queue of events: a connection opened and closed before its row
// was written costs nothing, a failed write is retried (with backoff) rather than lost, and the memory it
// takes is bounded by this process's connections. Nothing is ever dropped, since a dropped delete would
// leave a connection online for good.
//
// # Processes
//
// Each process has a row refreshed every Options.Heartbeat (5 s). A process not seen for Options.TTL (30 s)
// is dead: its connections stop counting at once, and whichever process notices first (each one looks every
// heartbeat, and once at start with a scan for rows of processes that vanished) deletes them, user by user
// under the same lock, announcing "offline" for the users left with no connection anywhere. So the
// connections of a SIGKILLed process stay online for up to the TTL, 30 s, plus a heartbeat or two. A process that was
// presumed dead but is not (the database was unreachable for longer than the TTL) notices at its next
// heartbeat and writes its connections again. Close, on a graceful shutdown, writes the last changes,
// deletes the process's row and then its remaining connections, announcing "offline" where due.
//
// The database's clock is the only one used, so the processes' clocks need not agree.
//
// # Background status
//
// The gateway has no hook for 2004 (set background status), so presence_conns.is_background stays false:
// the gateway's own registry answers it for this process's connections, and connections of other
// processes are reported as in the foreground.
package presence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/server/internal/gateway"
)

// Status values of UserStatusChangeTips.
const (
	StatusOffline = 0
	StatusOnline  = 1
)

// Defaults of Options.
const (
	DefaultWorkers   = 4
	DefaultTimeout   = 5 * time.Second
	DefaultHeartbeat = 5 * time.Second
	DefaultTTL       = 30 * time.Second
)

// Notifier pushes a notification that is never stored to whoever of to is online, in every process, echoing
// the operationID ctx carries (chat.WithOperationID); *chat.Service implements it.
type Notifier interface {
	NotifyOnlineCtx(ctx context.Context, contentType int, opUserID string, tips any, to []string)
}

// Options tune a Presence; zero values take the defaults.
type Options struct {
	// Workers is the number of goroutines writing the registry; each holds at most one database connection
	// at a time (announcing reads the user's friends within it). Default 4.
	Workers int
	// Timeout bounds one transaction. Default 5s.
	Timeout time.Duration
	// Heartbeat is how often the process refreshes its row and looks for dead processes. Default 5s.
	Heartbeat time.Duration
	// TTL is how long a process may go unseen before it is dead and its connections are removed. It must be
	// the same in every process of a deployment and well above Heartbeat. Default 30s.
	TTL time.Duration
	// ProcessID names this process in the registry; it must be unique among the processes sharing the
	// database. Default: the host name and a random suffix.
	ProcessID string
	// Log receives database errors. Default slog.Default().
	Log *slog.Logger
}

// Presence implements gateway.Hooks and gateway.ConnHooks.
type Presence struct {
	pool    *pgxpool.Pool
	q       *db.Queries
	notify  Notifier
	opts    Options
	id      string
	ttlMS   int64
	workers []*worker

	ctx    context.Context // ends on hard stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // workers
	bgStop chan struct{}
	bgWG   sync.WaitGroup // heartbeat and reaper

	draining atomic.Bool // Close has begun: workers exit once idle
	closed   atomic.Bool // workers are gone: hooks are ignored
	once     sync.Once
	closeErr error
}

var (
	_ gateway.Hooks     = (*Presence)(nil)
	_ gateway.ConnHooks = (*Presence)(nil)
)

// Start registers this process in the registry and starts the workers, the heartbeat and the reaper (whose
// first round, at once, removes the connections of dead processes). Call Close when the gateway has stopped.
func Start(ctx context.Context, pool *pgxpool.Pool, notify Notifier, opts Options) (*Presence, error) {
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.TTL < 2*opts.Heartbeat {
		return nil, errors.New("presence: TTL must be at least twice the heartbeat")
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.ProcessID == "" {
		opts.ProcessID = newProcessID()
	}
	p := &Presence{
		pool: pool, q: db.New(pool), notify: notify, opts: opts, id: opts.ProcessID, ttlMS: opts.TTL.Milliseconds(),
		workers: make([]*worker, opts.Workers), bgStop: make(chan struct{}),
	}
	if _, err := p.q.TouchPresenceProcess(ctx, db.TouchPresenceProcessParams{ProcessID: p.id, TtlMs: p.ttlMS}); err != nil {
		return nil, err
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for i := range p.workers {
		w := &worker{p: p, users: map[string]*userState{}, wake: make(chan struct{}, 1)}
		p.workers[i] = w
		p.wg.Go(w.run)
	}
	p.bgWG.Go(p.heartbeat)
	p.bgWG.Go(p.reaper)
	return p, nil
}

func newProcessID() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	if host == "" {
		return hex.EncodeToString(b[:])
	}
	return host + "-" + hex.EncodeToString(b[:])
}

// ProcessID is this process's name in the registry.
func (p *Presence) ProcessID() string { return p.id }

// Online is part of gateway.Hooks; it does nothing: a user's first connection in this process is not
// necessarily their first anywhere (Connected decides).
func (p *Presence) Online(string, int) {}

// Offline is part of gateway.Hooks; it does nothing (Disconnected decides).
func (p *Presence) Offline(string, int) {}

// Connected records a connection that opened in this process; its row is written soon after.
func (p *Presence) Connected(c gateway.ConnInfo) {
	if p.closed.Load() {
		return
	}
	w := p.worker(c.UserID)
	w.mu.Lock()
	st := w.state(c.UserID)
	st.live = append(st.live, conn{id: c.ConnID, platformID: c.PlatformID, opID: c.OperationID})
	w.mark(c.UserID, st)
	w.mu.Unlock()
}

// Disconnected records a connection of this process that closed; its row is deleted soon after.
func (p *Presence) Disconnected(c gateway.ConnInfo) {
	if p.closed.Load() {
		return
	}
	w := p.worker(c.UserID)
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.users[c.UserID]
	if st == nil {
		return
	}
	for i, x := range st.live {
		if x.id == c.ConnID {
			st.live = append(st.live[:i], st.live[i+1:]...)
			break
		}
	}
	if i := index(st.written, c.ConnID); i >= 0 {
		st.gone = append(st.gone, st.written[i])
		w.mark(c.UserID, st)
	}
	w.forgetIfIdle(c.UserID, st)
}

func (p *Presence) worker(userID string) *worker {
	h := fnv.New32a()
	_, _ = h.Write([]byte(userID))
	return p.workers[h.Sum32()%uint32(len(p.workers))]
}

// Remote reports the live connections of userIDs in every other process (this process's own are the
// gateway's to report), by platform; users with none are absent from the map. IsBackground is false for
// them (see the package documentation).
func (p *Presence) Remote(ctx context.Context, userIDs []string) (map[string][]gateway.PlatformConn, error) {
	out := map[string][]gateway.PlatformConn{}
	if len(userIDs) == 0 {
		return out, nil
	}
	rows, err := p.q.LivePresenceConns(ctx, db.LivePresenceConnsParams{UserIds: userIDs, ExceptProcessID: p.id, TtlMs: p.ttlMS})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.UserID] = append(out[r.UserID], gateway.PlatformConn{PlatformID: int(r.PlatformID), ConnID: r.ConnID, IsBackground: r.IsBackground})
	}
	return out, nil
}

// RemoteConn is a live connection of another process, as the registry has it.
type RemoteConn struct {
	UserID, ProcessID string
	gateway.PlatformConn
}

// RemoteConns is Remote with the process of each connection.
func (p *Presence) RemoteConns(ctx context.Context, userIDs []string) ([]RemoteConn, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	rows, err := p.q.LivePresenceConns(ctx, db.LivePresenceConnsParams{UserIds: userIDs, ExceptProcessID: p.id, TtlMs: p.ttlMS})
	if err != nil {
		return nil, err
	}
	out := make([]RemoteConn, len(rows))
	for i, r := range rows {
		out[i] = RemoteConn{UserID: r.UserID, ProcessID: r.ProcessID, PlatformConn: gateway.PlatformConn{PlatformID: int(r.PlatformID), ConnID: r.ConnID, IsBackground: r.IsBackground}}
	}
	return out, nil
}

// Others lists the other live processes.
func (p *Presence) Others(ctx context.Context) ([]string, error) {
	return p.q.LivePresenceProcesses(ctx, db.LivePresenceProcessesParams{ExceptProcessID: p.id, TtlMs: p.ttlMS})
}

// Close shuts presence down gracefully, after the gateway has closed its connections: the workers write
// the changes still pending (until ctx ends), then the process's row is deleted and so are its remaining
// connections, with "offline" announced for users left with no connection anywhere. Hooks called
// afterwards are ignored. Close is idempotent and returns the first error of that clean-up.
func (p *Presence) Close(ctx context.Context) error {
	p.once.Do(func() {
		p.draining.Store(true)
		for _, w := range p.workers {
			w.poke()
		}
		done := make(chan struct{})
		go func() { p.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			p.cancel() // abandon what is left; retire below still removes the rows
			<-done
		}
		p.closed.Store(true)
		close(p.bgStop)
		p.bgWG.Wait()
		p.cancel()
		p.closeErr = p.retire(ctx)
	})
	return p.closeErr
}

// retire removes this process from the registry: it marks itself dead first, so that its connections
// stop counting at once, then deletes them user by user, then its row. Whatever it does not get to (the
// database is slow or gone), the other processes' reapers finish.
func (p *Presence) retire(parent context.Context) error {
	// Even after Close's ctx ended, a moment to remove the rows: but no longer than Close's caller allowed
	// plus that moment (a shutdown with the database down must not wait a whole Timeout for it).
	d := p.opts.Timeout
	if dl, ok := parent.Deadline(); ok {
		d = min(d, max(time.Until(dl), 0)+500*time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := p.q.ExpirePresenceProcess(ctx, p.id); err != nil {
		p.opts.Log.Warn("presence: unregister process", "processID", p.id, "err", err)
		return err
	}
	users, err := p.q.PresenceUsersOfProcesses(ctx, []string{p.id})
	if err != nil {
		p.opts.Log.Warn("presence: list this process's connections", "processID", p.id, "err", err)
		return err
	}
	for _, u := range users {
		if _, err := p.settle(ctx, u, false); err != nil {
			p.opts.Log.Warn("presence: remove this process's connections", "processID", p.id, "userID", u, "err", err)
			return err
		}
	}
	if _, err := p.q.DeleteEmptyDeadPresenceProcesses(ctx, p.ttlMS); err != nil {
		p.opts.Log.Warn("presence: unregister process", "processID", p.id, "err", err)
		return err
	}
	return nil
}

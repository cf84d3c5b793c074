// Package presence tells a user's friends when the user comes online or goes offline: 1304 UserStatusChange,
// pushed online-only (never stored) to everyone who has the user in their friend list, when the user's first
// connection opens (status 1) or their last one closes (status 0). It implements gateway.Hooks.
//
// The gateway calls the hooks synchronously and in order per user; Presence only queues the event there. A
// fixed set of workers does the database work (who has the user as a friend?) and the pushes; the events of
// one user always go to the same worker, so a friend never sees "offline" overtake "online". The queues are
// bounded: when they are full an event is dropped and logged rather than stalling the gateway (presence is
// best-effort; clients can always ask /manager/get_users_online_status).
//
// Presence counts connections per process, as gateway.Hooks reports them: with several server processes a
// user connected to two of them is "online" from each one's point of view.
package presence

import (
	"context"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/gateway"
)

// Status values of UserStatusChangeTips.
const (
	StatusOffline = 0
	StatusOnline  = 1
)

// Notifier pushes a notification that is never stored to whoever of to is online (in any process);
// *chat.Service implements it.
type Notifier interface {
	NotifyOnline(contentType int, opUserID string, tips any, to []string)
}

// Options tune a Presence; zero values take the defaults.
type Options struct {
	// Workers is the number of goroutines doing the database work. Default 4.
	Workers int
	// QueuePerWorker is how many events wait per worker before new ones are dropped. Default 1024.
	QueuePerWorker int
	// Timeout bounds the database work of one event. Default 5s.
	Timeout time.Duration
	// Log receives dropped events and database errors. Default slog.Default().
	Log *slog.Logger
}

// Presence implements gateway.Hooks.
type Presence struct {
	q      *db.Queries
	notify Notifier
	opts   Options
	queues []chan event
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

var _ gateway.Hooks = (*Presence)(nil)

type event struct {
	userID     string
	platformID int
	status     int32
}

// New starts the workers. Call Close when the gateway has stopped calling the hooks.
func New(q *db.Queries, notify Notifier, opts Options) *Presence {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.QueuePerWorker <= 0 {
		opts.QueuePerWorker = 1024
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	p := &Presence{q: q, notify: notify, opts: opts, queues: make([]chan event, opts.Workers)}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for i := range p.queues {
		p.queues[i] = make(chan event, opts.QueuePerWorker)
		p.wg.Add(1)
		go p.work(p.queues[i])
	}
	return p
}

// Online is called when userID's first connection (on platformID) is registered.
func (p *Presence) Online(userID string, platformID int) { p.enqueue(userID, platformID, StatusOnline) }

// Offline is called when userID's last connection (on platformID) is gone.
func (p *Presence) Offline(userID string, platformID int) {
	p.enqueue(userID, platformID, StatusOffline)
}

// Close stops the workers; events still queued are dropped. Hooks called afterwards are ignored.
func (p *Presence) Close() {
	p.once.Do(func() {
		p.cancel()
		p.wg.Wait()
	})
}

func (p *Presence) enqueue(userID string, platformID int, status int32) {
	if p.ctx.Err() != nil {
		return
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(userID))
	q := p.queues[h.Sum32()%uint32(len(p.queues))]
	select {
	case q <- event{userID: userID, platformID: platformID, status: status}:
	default:
		p.opts.Log.Warn("presence: queue full; status change not sent to friends", "userID", userID, "status", status)
	}
}

func (p *Presence) work(q chan event) {
	defer p.wg.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case ev := <-q:
			p.handle(ev)
		}
	}
}

func (p *Presence) handle(ev event) {
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.Timeout)
	defer cancel()
	friends, err := p.q.FriendOwnersOf(ctx, ev.userID)
	if err != nil {
		if p.ctx.Err() == nil {
			p.opts.Log.Warn("presence: friends lookup failed; status change not sent", "userID", ev.userID, "err", err)
		}
		return
	}
	for _, f := range friends {
		tips := events.UserStatusChangeTips{FromUserID: ev.userID, ToUserID: f, Status: ev.status, PlatformID: int32(ev.platformID)}
		p.notify.NotifyOnline(events.UserStatusChange, ev.userID, tips, []string{f})
	}
}

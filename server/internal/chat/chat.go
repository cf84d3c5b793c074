// Package chat is the messaging domain shared by REST and the WebSocket gateway: validating and storing
// messages with gap-free per-conversation seqs (Writer), pushing them after commit to every connection of
// every recipient, here and on the other nodes (package bus), pulling by seq, history, revoke, read
// receipts, conversations, and the notifications other domains (friends, groups, users) emit.
package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/bus"
	"github.com/imspec/imserver/server/internal/gateway"
)

// Constants of the wire, from the AsyncAPI document (gen/events).
const (
	SingleChat       = events.SessionSingleChat
	WriteGroupChat   = 2 // accepted as a group chat
	GroupChat        = 3
	NotificationChat = 4

	ContentText   = events.ContentText
	ContentTyping = events.ContentTyping
	// Notifications occupy [NotificationBegin, NotificationEnd); clients may not send them.
	NotificationBegin = 1000
	NotificationEnd   = 5000

	FromUser   = 100
	FromSystem = 200
)

// Pusher delivers frames to live connections of this process (the gateway's hub implements it).
type Pusher interface {
	Deliver(userIDs []string, frame []byte, exceptConnID string)
	Kick(userID string, platformID int, reason string)
}

// BatchPusher is a Pusher that can take the pushes of one commit together (gateway.Hub): each recipient's
// connection then gets them in one write. fill calls deliver once per push, in order.
type BatchPusher interface {
	DeliverBatch(fill func(deliver func(userIDs []string, frame []byte, exceptConnID string)))
}

// Service is the messaging domain.
type Service struct {
	pool   *pgxpool.Pool
	q      *db.Queries
	w      *Writer
	pusher Pusher
	log    *slog.Logger
	bus    bus.Bus
	now    func() time.Time
	pushed pushedSet // what was pushed here lately, for the catch-up after a bus gap

	resyncMu sync.Mutex
}

// Options configure a Service.
type Options struct {
	// Workers is the number of concurrent group-commit transactions. Default 4.
	Workers int
	// MaxBatch is the most messages one transaction stores. Default 256.
	MaxBatch int
	// WriteTimeout bounds each write transaction; a send whose COMMIT goes unanswered this long gets 504.
	// Default DefaultWriteTimeout (30 s).
	WriteTimeout time.Duration
}

// New returns a Service; pusher may be set later with SetPusher (the gateway needs the service first).
func New(pool *pgxpool.Pool, log *slog.Logger, opts Options) *Service {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	s := &Service{pool: pool, q: db.New(pool), log: log, bus: bus.Local{}, now: time.Now}
	s.w = newWriter(pool, opts.Workers, opts.MaxBatch, opts.WriteTimeout, log, s.pushStored)
	return s
}

// SetPusher connects the service to this process's live connections.
func (s *Service) SetPusher(p Pusher) { s.pusher = p }

// Close finishes queued writes; call it after the listeners stopped accepting sends.
func (s *Service) Close() { s.w.close() }

func (s *Service) nowMS() int64 { return s.now().UnixMilli() }

// SingleConversationID is single_<a>_<b> with the two user IDs sorted.
func SingleConversationID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "single_" + a + "_" + b
}

// GroupConversationID is group_<groupID>.
func GroupConversationID(groupID string) string { return "group_" + groupID }

// NotificationConversationID is notification_<userID>, a user's own notifications.
func NotificationConversationID(userID string) string { return "notification_" + userID }

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func uniq(ids []string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	j := 0
	for i, id := range out {
		if id == "" || (i > 0 && id == out[i-1]) {
			continue
		}
		out[j] = id
		j++
	}
	return out[:j]
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called on types that always marshal
	}
	return b
}

type opIDKey struct{}

// WithOperationID returns ctx carrying the operationID of the request that causes pushes, so they echo it.
func WithOperationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, opIDKey{}, id)
}

func operationID(ctx context.Context) string {
	if id, ok := ctx.Value(opIDKey{}).(string); ok {
		return id
	}
	return gateway.OperationID(ctx)
}

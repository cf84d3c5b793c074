package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/auth"
)

// Path is where the gateway is served.
const Path = "/msg_gateway"

// Defaults of Options: the AsyncAPI x-limits (gen/events) where it sets them.
const (
	DefaultMaxFrameBytes   = events.MaxFrameBytes
	DefaultSendQueue       = events.SendQueueFrames
	DefaultMaxInFlight     = 8
	DefaultWriteTimeout    = events.WriteTimeoutSeconds * time.Second
	DefaultIdleTimeout     = events.IdleTimeoutSeconds * time.Second
	DefaultPingInterval    = events.PingIntervalSeconds * time.Second
	DefaultReadBufferSize  = 512
	DefaultWriteBufferSize = 128
)

// Authenticator checks a connection's token; *auth.Checker implements it. It returns an error carrying
// errCode 1002 (an *apierr.Error) for a token it refuses; any other error is a server fault.
type Authenticator interface {
	Check(ctx context.Context, token string) (auth.Identity, error)
}

// ConnInfo is who is on the other end of a connection: the token's identity, the connection's ID (unique
// across server processes) and the operationID it connected with (made up when the client sent none).
// Identity.Token is empty: the token is checked when the connection opens and not kept.
type ConnInfo struct {
	auth.Identity
	ConnID      string
	OperationID string
	// SDK is true for a connection of the OpenIM SDK profile (sdkType=js): request data is base64 protobuf,
	// the Backend answers protobuf bytes, and every frame after the connect ack is binary (frames_sdk.go).
	SDK bool
}

// Backend answers every request frame the gateway does not handle itself (everything but 2003 logout and
// 2004 background status). Handle runs in its own goroutine, concurrently with the connection's other
// requests (up to Options.MaxInFlight); ctx ends when the connection closes and carries the request's
// operationID (see OperationID). The reply is marshalled into the frame's data (nil: no data;
// json.RawMessage and []byte are taken as JSON text). An *apierr.Error becomes the frame's errCode and
// errMsg; any other error is logged and answered with 500.
type Backend interface {
	Handle(ctx context.Context, c ConnInfo, reqIdentifier int, data json.RawMessage) (reply any, err error)
}

// BackendFunc adapts a function to Backend.
type BackendFunc func(ctx context.Context, c ConnInfo, reqIdentifier int, data json.RawMessage) (any, error)

// Handle calls f.
func (f BackendFunc) Handle(ctx context.Context, c ConnInfo, reqIdentifier int, data json.RawMessage) (any, error) {
	return f(ctx, c, reqIdentifier, data)
}

// Hooks learn when a user comes online (the first connection on any platform is registered in this
// process) and goes offline (the last one is gone), for presence notifications. Calls for one user arrive
// in the order the changes happened. They run synchronously in whichever goroutine changed the registry,
// with no gateway lock held, so they may call back into the Hub; they must return quickly (hand slow work
// to another goroutine).
type Hooks interface {
	Online(userID string, platformID int)
	Offline(userID string, platformID int)
}

// ConnHooks, when the Options.Hooks value implements it too, hear about every connection: Connected after
// it is registered (after Online for a user's first), Disconnected when it leaves the registry for any
// reason (before Offline for a user's last). A replaced connection's Disconnected follows its successor's
// Connected. Same ordering and calling rules as Hooks. It is what a multi-process server needs to count a
// user's connections across processes.
type ConnHooks interface {
	Connected(c ConnInfo)
	Disconnected(c ConnInfo)
}

// Options configure a Hub. Zero values take the defaults named on each field.
type Options struct {
	// Checker authenticates connections. Required.
	Checker Authenticator
	// Backend answers requests. Required.
	Backend Backend
	// Hooks, when set, hear about users coming online and going offline.
	Hooks Hooks
	// Log receives connection errors and the causes of 500 replies. Default slog.Default().
	Log *slog.Logger
	// Registerer, when set, gets the gateway's Prometheus series (imserver_gateway_*).
	Registerer prometheus.Registerer

	// MaxFrameBytes is the largest inbound frame; a larger one closes the connection with 1009.
	// Default 51200.
	MaxFrameBytes int64
	// SendQueue is how many outbound frames may wait per connection; one more closes the connection with
	// 1008 "slow consumer". Default 256.
	SendQueue int
	// MaxInFlight is how many requests of one connection the Backend handles at once; the connection's
	// reader waits for a free slot. Default 8.
	MaxInFlight int
	// WriteTimeout bounds every write to a socket. Default 10s.
	WriteTimeout time.Duration
	// IdleTimeout closes a connection that sent nothing (no frame, no ping, no pong) for this long.
	// Default 30s.
	IdleTimeout time.Duration
	// PingInterval is how long a connection may be silent before the server pings it (a pong counts as
	// traffic), so an idle connection is pinged every PingInterval. Default 20 s, or IdleTimeout*2/3 when
	// IdleTimeout is not the default; negative: the server never pings.
	PingInterval time.Duration
	// OriginPatterns are the cross-origin hosts allowed to connect (coder/websocket AcceptOptions). Nil
	// allows every origin: the gateway authenticates by token, never by cookie, so a foreign page cannot
	// borrow a user's credentials the way cross-site WebSocket hijacking needs.
	OriginPatterns []string
	// ReadBufferSize sizes the read-ahead buffer, lent from a pool to a connection only while it holds
	// bytes read ahead (with ReaderPerConn, or off Linux, each connection keeps one). WriteBufferSize sizes
	// each connection's write buffer, which every idle connection keeps (net/http's hijacked connection
	// would keep 4 KiB each). Frames larger than a buffer bypass it. The write buffer can be tiny: what
	// passes through it is collected by corkConn and reaches the socket in one write per batch anyway.
	// Defaults 512 and 128.
	ReadBufferSize, WriteBufferSize int
	// ReaderPerConn keeps a reader goroutine on every connection, as off Linux. By default (Linux) an idle
	// connection has none: its socket waits in the Hub's epoll instance and a reader starts when it is
	// readable (doc.go, "Goroutines").
	ReaderPerConn bool
}

func (o Options) withDefaults() (Options, error) {
	if o.Checker == nil {
		return o, errors.New("gateway: Options.Checker is required")
	}
	if o.Backend == nil {
		return o, errors.New("gateway: Options.Backend is required")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if o.SendQueue <= 0 {
		o.SendQueue = DefaultSendQueue
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.PingInterval == 0 {
		// 20 s of 30 s by default; an IdleTimeout set otherwise keeps the ratio.
		o.PingInterval = o.IdleTimeout / events.IdleTimeoutSeconds * events.PingIntervalSeconds
	}
	if o.PingInterval >= o.IdleTimeout {
		o.PingInterval = -1 // a ping after the deadline could never save the connection
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = DefaultReadBufferSize
	}
	if o.WriteBufferSize <= 0 {
		o.WriteBufferSize = DefaultWriteBufferSize
	}
	return o, nil
}

type ctxKey struct{}

// OperationID is the operationID of the request frame a Backend.Handle call answers.
func OperationID(ctx context.Context) string {
	s, _ := ctx.Value(ctxKey{}).(string)
	return s
}

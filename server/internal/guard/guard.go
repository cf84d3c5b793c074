// Package guard admits requests at the edge, before their body is read: rate limits per user (sends,
// mutating calls) and per address (the secret-checked calls), the bound on requests not yet authenticated,
// and the development secret's loopback-only rule. SECURITY.md lists every limit and its default.
//
// The buckets live in this process's memory: with N server processes behind a balancer a client may get up
// to N times a limit. That is deliberate: a limit here protects a process, and a shared counter would cost
// a database round trip per call.
package guard

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
)

// Defaults: far above what a person (or the conformance suite) does, low enough that one client cannot
// keep the database busy alone.
var (
	DefaultSend   = Limit{Rate: 50, Burst: 200}   // per user: REST send_msg and WebSocket 1003
	DefaultMutate = Limit{Rate: 20, Burst: 200}   // per user: every other call that changes something
	DefaultSecret = Limit{Rate: 100, Burst: 1000} // per address: user_register, user_token
)

// DefaultMaxUnauthenticated is how many requests (REST calls and WebSocket upgrades) may be in progress
// before their token was checked; a secret-checked call counts until it is answered.
const DefaultMaxUnauthenticated = 128

// Options configure a Guard.
type Options struct {
	// RateLimitOff turns every rate limit off (load tests); the bound on unauthenticated requests stays.
	RateLimitOff bool
	// Send, Mutate and Secret are the limits; zero values take the defaults.
	Send, Mutate, Secret Limit
	// Exempt user IDs are never rate-limited. Admins never are either: they are the operator's backends.
	Exempt []string
	// MaxUnauthenticated bounds requests in progress before authentication; 0 takes the default,
	// negative means no bound.
	MaxUnauthenticated int
	// DevSecretLoopbackOnly refuses the secret-checked calls from any peer but loopback: the server runs
	// with the documents' well-known secret.
	DevSecretLoopbackOnly bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Guard implements the admission rules; its methods are safe for concurrent use.
type Guard struct {
	o                    Options
	send, mutate, secret *Keyed
	exempt               map[string]bool
	anon                 *Slots
}

// New returns a Guard.
func New(o Options) *Guard {
	def := func(l *Limit, d Limit) {
		if l.Rate <= 0 || l.Burst < 1 {
			*l = d
		}
	}
	def(&o.Send, DefaultSend)
	def(&o.Mutate, DefaultMutate)
	def(&o.Secret, DefaultSecret)
	if o.MaxUnauthenticated == 0 {
		o.MaxUnauthenticated = DefaultMaxUnauthenticated
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	g := &Guard{o: o, send: NewKeyed(o.Send, 0), mutate: NewKeyed(o.Mutate, 0), secret: NewKeyed(o.Secret, 0),
		exempt: map[string]bool{}, anon: NewSlots(o.MaxUnauthenticated)}
	for _, u := range o.Exempt {
		g.exempt[u] = true
	}
	return g
}

// Anonymous takes one of the slots of requests not yet authenticated. When none is free it returns the
// error to answer with (HTTP 503).
func (g *Guard) Anonymous() (release func(), err error) {
	release, ok := g.anon.Take()
	if !ok {
		return nil, &apierr.Error{Code: api.ErrCodeTooManyRequests, Dlt: retryDlt(time.Second),
			Msg: "the server is handling too many requests that are not authenticated yet; retry in a moment"}
	}
	return release, nil
}

// Public admits a call of op, an operation checked by the shared secret rather than a token, from the
// peer remoteAddr (host:port).
func (g *Guard) Public(remoteAddr, op string) error {
	ip := peerIP(remoteAddr)
	if g.o.DevSecretLoopbackOnly && (ip == nil || !ip.IsLoopback()) {
		return apierr.NoPermission("this server runs with the development secret, which is accepted only from " +
			"loopback; its operator must set --secret (IMSERVER_SECRET, at least 16 characters), or start it " +
			"with --allow-dev-secret to accept the development secret from anywhere")
	}
	if g.o.RateLimitOff {
		return nil
	}
	if ok, d := g.secret.Allow(addrKey(ip, remoteAddr), g.o.Now()); !ok {
		return tooMany(d, "too many %s calls from your address (limit %s per second); retry after %d ms", op, perSecond(g.o.Secret), ms(d))
	}
	return nil
}

// Caller admits a call of op by the authenticated id: sendMsg counts against the send limit, operations
// whose operationId starts with "get" (reads) against none, every other operation against the mutate limit.
func (g *Guard) Caller(id auth.Identity, op string) error {
	switch {
	case op == "sendMsg":
		return g.Send(id)
	case strings.HasPrefix(op, "get"):
		return nil
	case g.skip(id):
		return nil
	}
	if ok, d := g.mutate.Allow(id.UserID, g.o.Now()); !ok {
		return tooMany(d, "too many changes by %s (limit %s per second); retry after %d ms", id.UserID, perSecond(g.o.Mutate), ms(d))
	}
	return nil
}

// Send admits one message sent by id (REST send_msg or WebSocket 1003, typing included).
func (g *Guard) Send(id auth.Identity) error {
	if g.skip(id) {
		return nil
	}
	if ok, d := g.send.Allow(id.UserID, g.o.Now()); !ok {
		return tooMany(d, "too many messages sent by %s (limit %s per second); retry after %d ms", id.UserID, perSecond(g.o.Send), ms(d))
	}
	return nil
}

func (g *Guard) skip(id auth.Identity) bool {
	return g.o.RateLimitOff || id.Admin || g.exempt[id.UserID]
}

// tooMany is errCode 429 with the wait in errDlt as "retryAfterMs=<n>" (and in errMsg, which is all a
// WebSocket reply carries).
func tooMany(d time.Duration, format string, a ...any) error {
	return &apierr.Error{Code: api.ErrCodeTooManyRequests, Msg: fmt.Sprintf(format, a...), Dlt: retryDlt(d)}
}

func retryDlt(d time.Duration) string { return fmt.Sprintf("retryAfterMs=%d", ms(d)) }

// ms rounds up, so that a client waiting that long finds a token.
func ms(d time.Duration) int64 { return int64((d + time.Millisecond - 1) / time.Millisecond) }

func perSecond(l Limit) string { return fmt.Sprintf("%g (bursts of %d)", l.Rate, l.Burst) }

func peerIP(remoteAddr string) net.IP {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	return net.ParseIP(host)
}

// addrKey is the bucket of a peer: its IPv4 address, or its IPv6 /64 (one host usually owns a whole /64,
// so a bucket per address would give it billions).
func addrKey(ip net.IP, remoteAddr string) string {
	if ip == nil {
		return remoteAddr
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

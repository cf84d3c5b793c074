package server

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imspec/imserver/server/internal/bus"
	"github.com/imspec/imserver/server/internal/config"
	"github.com/imspec/imserver/server/internal/gateway"
	"github.com/imspec/imserver/server/internal/presence"
)

// connectBus joins the NATS cluster of a multi-node deployment, or returns the no-op bus of a single node.
func connectBus(cfg *config.Config, log *slog.Logger, h bus.Handler, reg prometheus.Registerer) (bus.Bus, error) {
	if len(cfg.NATS.URLs) == 0 {
		return bus.Local{}, nil
	}
	n, err := bus.ConnectNATS(bus.NATSOptions{
		URLs: cfg.NATS.URLs, Creds: cfg.NATS.Creds, NKey: cfg.NATS.NKey, CA: cfg.NATS.CA, Cert: cfg.NATS.Cert, Key: cfg.NATS.Key,
		Name: cfg.NodeName, Prefix: cfg.NATS.SubjectPrefix, Log: log, Registerer: reg,
	}, h)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// processID names this process in the presence registry: the node name and a random suffix, so that a node
// restarted under the same name is never taken for its dead predecessor (whose connections must expire).
func processID(node string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	if node == "" {
		return hex.EncodeToString(b[:])
	}
	return node + "-" + hex.EncodeToString(b[:])
}

// attachTimes are when this node's connections registered (µs), for the kicks of newer logins elsewhere.
type attachTimes struct{ m sync.Map }

// nodeHandler is chat's bus handler, but for a newer login's kick, which it applies itself: only to this
// node's connections that registered before the connection that caused it (a kick that arrives late must not
// close a connection newer still).
type nodeHandler struct {
	bus.Handler
	hub      *atomic.Pointer[gateway.Hub]
	attached *attachTimes
}

func (h nodeHandler) Handle(e *bus.Event) {
	if e.Kind != bus.KindKick || e.Before == 0 {
		h.Handler.Handle(e)
		return
	}
	hub := h.hub.Load()
	if hub == nil {
		return
	}
	hub.KickWhere(e.UserID, e.PlatformID, gateway.CloseKicked, e.Reason, func(c gateway.ConnInfo) bool {
		// No time yet: the connection is between the hub's registration and its Attach, so it is newer than
		// any kick arriving now (closing it was the flake deploy-check saw: a fresh connection kicked).
		t, ok := h.attached.m.Load(c.ConnID)
		return ok && t.(int64) < e.Before
	})
}

// nodeHooks tell the presence registry about every connection and the bus which users this node holds:
// it subscribes to a user's events from other nodes while it holds a connection of theirs.
type nodeHooks struct {
	p        *presence.Presence
	b        bus.Bus
	attached *attachTimes
}

var _ gateway.Attacher = nodeHooks{}

func (h nodeHooks) Online(userID string, platformID int)  { h.p.Online(userID, platformID) }
func (h nodeHooks) Offline(userID string, platformID int) { h.p.Offline(userID, platformID) }

// Attach subscribes before the gateway acks the connection, and closes the user's older connection on the
// same platform on the other nodes: the newest login of a platform wins across nodes as it does within one
// (as far as the nodes' clocks agree).
func (h nodeHooks) Attach(c gateway.ConnInfo) {
	now := time.Now().UnixMicro()
	h.attached.m.Store(c.ConnID, now)
	h.b.Hold(c.UserID)
	h.b.Publish(&bus.Event{Kind: bus.KindKick, UserID: c.UserID, PlatformID: c.PlatformID, Reason: gateway.ReasonReplaced, Before: now})
}

func (h nodeHooks) Connected(c gateway.ConnInfo) { h.p.Connected(c) }

func (h nodeHooks) Disconnected(c gateway.ConnInfo) {
	h.p.Disconnected(c)
	h.b.Release(c.UserID)
	h.attached.m.Delete(c.ConnID)
}

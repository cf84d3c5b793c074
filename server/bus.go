package server

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imspec/imserver/server/internal/bus"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/config"
	"github.com/imspec/imserver/server/internal/gateway"
	"github.com/imspec/imserver/server/internal/presence"
)

// connectBus joins the NATS cluster of a multi-node deployment, or returns the no-op bus of a single node.
func connectBus(cfg *config.Config, log *slog.Logger, c *chat.Service, reg prometheus.Registerer) (bus.Bus, error) {
	if len(cfg.NATS.URLs) == 0 {
		return bus.Local{}, nil
	}
	n, err := bus.ConnectNATS(bus.NATSOptions{
		URLs: cfg.NATS.URLs, Creds: cfg.NATS.Creds, NKey: cfg.NATS.NKey, CA: cfg.NATS.CA, Cert: cfg.NATS.Cert, Key: cfg.NATS.Key,
		Name: cfg.NodeName, Prefix: cfg.NATS.SubjectPrefix, Log: log, Registerer: reg,
	}, c.BusHandler())
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

// nodeHooks tell the presence registry about every connection and the bus which users this node holds:
// it subscribes to a user's events from other nodes while it holds a connection of theirs.
type nodeHooks struct {
	p *presence.Presence
	b bus.Bus
}

var _ gateway.Attacher = nodeHooks{}

func (h nodeHooks) Online(userID string, platformID int)  { h.p.Online(userID, platformID) }
func (h nodeHooks) Offline(userID string, platformID int) { h.p.Offline(userID, platformID) }

// Attach subscribes before the gateway acks the connection, and closes the user's connection on the same
// platform on the other nodes: the newest login of a platform wins across nodes as it does within one.
func (h nodeHooks) Attach(c gateway.ConnInfo) {
	h.b.Hold(c.UserID)
	h.b.Publish(&bus.Event{Kind: bus.KindKick, UserID: c.UserID, PlatformID: c.PlatformID, Reason: gateway.ReasonReplaced})
}

func (h nodeHooks) Connected(c gateway.ConnInfo) { h.p.Connected(c) }

func (h nodeHooks) Disconnected(c gateway.ConnInfo) {
	h.p.Disconnected(c)
	h.b.Release(c.UserID)
}

package bus

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
)

// Conn is a live connection of a node, as get_users_online_status reports it.
type Conn struct {
	PlatformID int    `json:"p"`
	ConnID     string `json:"c"`
	Background bool   `json:"b,omitempty"`
}

// StatusSource reports this node's live connections of users (the gateway's registry: current to the
// moment, with the background flag of 2004, which only the node holding a connection knows).
type StatusSource func(userIDs []string) map[string][]Conn

type statusReq struct {
	Users []string `json:"u"`
}

type statusReply struct {
	Node  string            `json:"n"`
	Conns map[string][]Conn `json:"c,omitempty"`
}

// StatusTimeout bounds a Status question.
const StatusTimeout = 500 * time.Millisecond

// SetStatusSource answers the other nodes' Status questions, as node, from src.
func (n *NATS) SetStatusSource(node string, src StatusSource) error {
	_, err := n.nc.Subscribe(n.prefix+".status", func(m *nats.Msg) {
		var q statusReq
		if json.Unmarshal(m.Data, &q) != nil || m.Reply == "" {
			return
		}
		b, _ := json.Marshal(statusReply{Node: node, Conns: src(q.Users)})
		_ = m.Respond(b) // every node answers, even with nothing, so the asker knows when it has heard all
	})
	return err
}

// Status asks the other nodes for their live connections of userIDs and returns each answer by node. It
// waits until every node of expect has answered, or ctx ends (a node that died, or is cut off from NATS,
// answers nothing).
func (n *NATS) Status(ctx context.Context, userIDs []string, expect map[string]bool) map[string]map[string][]Conn {
	out := map[string]map[string][]Conn{}
	if len(expect) == 0 {
		return out
	}
	inbox := nats.NewInbox()
	sub, err := n.nc.SubscribeSync(inbox)
	if err != nil {
		return out
	}
	defer func() { _ = sub.Unsubscribe() }()
	b, _ := json.Marshal(statusReq{Users: userIDs})
	if err := n.nc.PublishRequest(n.prefix+".status", inbox, b); err != nil {
		return out
	}
	missing := len(expect)
	for missing > 0 {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return out
		}
		var r statusReply
		if json.Unmarshal(m.Data, &r) != nil {
			continue
		}
		if _, dup := out[r.Node]; !dup && expect[r.Node] {
			missing--
		}
		out[r.Node] = r.Conns
	}
	return out
}

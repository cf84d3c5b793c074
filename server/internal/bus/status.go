package bus

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
)

// StatusSource reports the background flag (2004) of this node's connections of users, by connection ID.
type StatusSource func(userIDs []string) map[string]bool

type statusReq struct {
	Users []string `json:"u"`
}

// SetStatusSource answers the other nodes' Background questions from src (the gateway's registry).
func (n *NATS) SetStatusSource(src StatusSource) error {
	_, err := n.nc.Subscribe(n.prefix+".status", func(m *nats.Msg) {
		var q statusReq
		if json.Unmarshal(m.Data, &q) != nil || m.Reply == "" {
			return
		}
		got := src(q.Users)
		if len(got) == 0 {
			return // nothing held here: no answer to wait for
		}
		b, _ := json.Marshal(got)
		_ = m.Respond(b)
	})
	return err
}

// Background asks the other nodes for the background flag of the given connections of userIDs, which only
// the node holding a connection knows, and returns what they answered by connection ID. It waits until every
// connection in want is answered for, or ctx ends (a node that died answers nothing: its connections stay
// out of the result).
func (n *NATS) Background(ctx context.Context, userIDs []string, want map[string]bool) map[string]bool {
	out := map[string]bool{}
	if len(want) == 0 {
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
	missing := len(want)
	for missing > 0 {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return out
		}
		var got map[string]bool
		if json.Unmarshal(m.Data, &got) != nil {
			continue
		}
		for id, bg := range got {
			if _, seen := out[id]; !seen && want[id] {
				missing--
			}
			out[id] = bg
		}
	}
	return out
}

// StatusTimeout bounds a Background question.
const StatusTimeout = 500 * time.Millisecond

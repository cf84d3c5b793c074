package load

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imspec/imserver/client"
)

// Wire constants of the documents (gen/events has them too; repeated here so that the frames imload sends
// are plain to read).
const (
	sessionSingle = 1
	sessionGroup  = 3
	contentText   = 101
	msgFromUser   = 100
)

// msgBuilder makes the data of WS 1003 (and the body of REST /msg/send_msg) for one sender: a text message
// whose clientMsgID carries the message's ordinal and its intended send time, "il<k>.<unixnano>", which
// every compatible server echoes in the ack and the push.
type msgBuilder struct {
	prefix []byte // up to the clientMsgID value
}

func newMsgBuilder(sendID, recvID, groupID string, platform, payload int, rest bool) *msgBuilder {
	session := sessionSingle
	if groupID != "" {
		session = sessionGroup
	}
	text := "imload " + strings.Repeat("x", payload)
	var content string
	if rest {
		content = `{"content":` + strconv.Quote(text) + `}` // REST: the element as an object
	} else {
		c, _ := json.Marshal(map[string]string{"content": text}) // WS: the element's JSON text, as SDKs send it
		content = strconv.Quote(string(c))
	}
	p := fmt.Sprintf(`{"sendID":%q,"recvID":%q,"groupID":%q,"sessionType":%d,"contentType":%d,"msgFrom":%d,"senderPlatformID":%d,"content":%s,"clientMsgID":`,
		sendID, recvID, groupID, session, contentText, msgFromUser, platform, content)
	return &msgBuilder{prefix: []byte(p)}
}

func (b *msgBuilder) build(k int, intended time.Time) []byte {
	out := make([]byte, 0, len(b.prefix)+64)
	out = append(out, b.prefix...)
	out = append(out, `"il`...)
	out = strconv.AppendInt(out, int64(k), 10)
	out = append(out, '.')
	out = strconv.AppendInt(out, intended.UnixNano(), 10)
	out = append(out, `","createTime":`...)
	out = strconv.AppendInt(out, intended.UnixMilli(), 10)
	out = append(out, '}')
	return out
}

// parseClientMsgID reads what msgBuilder put in a clientMsgID.
func parseClientMsgID(s string) (k int, sent time.Time, ok bool) {
	rest, found := strings.CutPrefix(s, "il")
	if !found {
		return 0, time.Time{}, false
	}
	ks, ts, found := strings.Cut(rest, ".")
	if !found {
		return 0, time.Time{}, false
	}
	k, err1 := strconv.Atoi(ks)
	ns, err2 := strconv.ParseInt(ts, 10, 64)
	if err1 != nil || err2 != nil || k < 0 {
		return 0, time.Time{}, false
	}
	return k, time.Unix(0, ns), true
}

// sendPlan drives senders: each sender has --window sends in flight at most; with a rate, sends start on a
// fixed schedule (the total rate spread evenly over the senders) and latency counts from the scheduled time.
type sendPlan struct {
	senders  int
	rate     float64
	window   int
	deadline time.Time
	budget   *atomic.Int64 // messages left for all senders
	// send sends message k of sender i; it runs in a goroutine of its own.
	send func(ctx context.Context, i, k int, intended time.Time)
	// dead, when set, reports that sender i can send no more (its connection ended): it stops.
	dead func(i int) bool
}

// run returns when every sender stopped (deadline, budget or ctx) and every send in flight returned.
func (p sendPlan) run(ctx context.Context) {
	var interval time.Duration
	if p.rate > 0 {
		interval = time.Duration(float64(p.senders) / p.rate * float64(time.Second))
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range p.senders {
		wg.Go(func() {
			sem := make(chan struct{}, p.window)
			next := start.Add(interval * time.Duration(i) / time.Duration(p.senders))
			defer func() { // wait for the sends in flight
				for range p.window {
					sem <- struct{}{}
				}
			}()
			for k := 0; ctx.Err() == nil; k++ {
				var intended time.Time
				if interval > 0 {
					if next.After(p.deadline) {
						return
					}
					if d := time.Until(next); d > 0 {
						select {
						case <-time.After(d):
						case <-ctx.Done():
							return
						}
					}
					intended = next
					next = next.Add(interval)
				} else if time.Now().After(p.deadline) {
					return
				}
				if p.dead != nil && p.dead(i) {
					return
				}
				if p.budget.Add(-1) < 0 {
					return
				}
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				if interval == 0 {
					intended = time.Now()
				}
				go func() {
					defer func() { <-sem }()
					p.send(ctx, i, k, intended)
				}()
			}
		})
	}
	wg.Wait()
}

// errorLog keeps a count of failures and the first few distinct messages.
type errorLog struct {
	n    atomic.Int64
	mu   sync.Mutex
	msgs []string
}

func (e *errorLog) add(err error) {
	e.n.Add(1)
	s := err.Error()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.msgs) >= 5 {
		return
	}
	for _, m := range e.msgs {
		if m == s {
			return
		}
	}
	e.msgs = append(e.msgs, s)
}

func (e *errorLog) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.msgs...)
}

// sendWS sends one 1003 frame and returns the ack.
func sendWS(ctx context.Context, ws *client.WS, data []byte) (client.SendAck, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return ws.SendMsg(cctx, json.RawMessage(data))
}

// waitUntil polls cond every 10 ms until it holds or d passed; it reports whether it held.
func waitUntil(ctx context.Context, d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) || ctx.Err() != nil {
			return cond()
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// connDead is a sendPlan.dead for senders that each have a connection.
func connDead[T interface{ Done() <-chan struct{} }](conns []T) func(int) bool {
	return func(i int) bool {
		select {
		case <-conns[i].Done():
			return true
		default:
			return false
		}
	}
}

func singleConversationID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "single_" + a + "_" + b
}

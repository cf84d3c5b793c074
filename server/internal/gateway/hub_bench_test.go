package gateway

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
)

// hubBenchAuth accepts the token "hb:<userID>" on platform 5.
type hubBenchAuth struct{}

func (hubBenchAuth) Check(_ context.Context, token string) (auth.Identity, error) {
	u, ok := strings.CutPrefix(token, "hb:")
	if !ok || u == "" {
		return auth.Identity{}, apierr.TokenInvalid("token is not valid")
	}
	return auth.Identity{UserID: u, PlatformID: 5, TokenID: "jti-" + u, Token: token}, nil
}

// benchPush is a 2001 frame of the size a short text message has (about 600 bytes).
var benchPush = []byte(`{"reqIdentifier":2001,"msgIncr":"","operationID":"op-1234567890","errCode":0,"errMsg":"","data":{` +
	`"sendID":"ilabcdef01f0","recvID":"","groupID":"ilabcdef01g","clientMsgID":"il123.1700000000000000000",` +
	`"serverMsgID":"8f14e45fceea167a5a36dedd4bea2543","senderPlatformID":5,"senderNickname":"ilabcdef01f0",` +
	`"senderFaceURL":"","sessionType":3,"msgFrom":100,"contentType":101,` +
	`"content":"{\"content\":\"imload xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}","seq":123456,"sendTime":1700000000123,` +
	`"createTime":1700000000100,"status":2,"isRead":false,"offlinePushInfo":null,"atUserIDList":[],` +
	`"attachedInfo":"","ex":"","conversationID":"group_ilabcdef01g"}}`)

// frameCounter reads a server-to-client WebSocket stream (unmasked frames) and calls onFrame for each data
// frame, without decoding it: the cheapest possible client, so the figure is the server's.
func frameCounter(r *bufio.Reader, onFrame func()) error {
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:2]); err != nil {
			return err
		}
		n := uint64(hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(r, hdr[:2]); err != nil {
				return err
			}
			n = uint64(binary.BigEndian.Uint16(hdr[:2]))
		case 127:
			if _, err := io.ReadFull(r, hdr[:8]); err != nil {
				return err
			}
			n = binary.BigEndian.Uint64(hdr[:8])
		}
		if _, err := r.Discard(int(n)); err != nil {
			return err
		}
		if op := hdr[0] & 0x0f; op == 1 || op == 2 { // text or binary, not ping/pong/close
			onFrame()
		}
	}
}

// hubBench is a Hub with members idle loopback connections whose readers count frames.
type hubBench struct {
	h       *Hub
	users   []string
	frames  []atomic.Int64 // per member: frames received
	conns   []net.Conn
	readers sync.WaitGroup
}

func newHubBench(b *testing.B, members int) *hubBench {
	b.Helper()
	h, err := New(Options{
		Checker: hubBenchAuth{}, Backend: BackendFunc(func(context.Context, ConnInfo, int, json.RawMessage) (any, error) { return nil, nil }),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), IdleTimeout: time.Hour, PingInterval: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	hb := &hubBench{h: h, users: make([]string, members), frames: make([]atomic.Int64, members)}
	b.Cleanup(func() {
		for _, c := range hb.conns {
			_ = c.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.Close(ctx)
		srv.Close()
		hb.readers.Wait()
	})
	addr := strings.TrimPrefix(srv.URL, "http://")
	for i := range members {
		u := fmt.Sprintf("m%d", i)
		hb.users[i] = u
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatalf("dial %d: %v (raise ulimit -n or use fewer members)", i, err)
		}
		hb.conns = append(hb.conns, c)
		fmt.Fprintf(c, "GET %s?token=hb:%s&userID=%s&platformID=5 HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", Path, u, u, addr)
		br := bufio.NewReaderSize(c, 64<<10)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			b.Fatalf("handshake %d: %v %v", i, resp, err)
		}
		hb.readers.Go(func() { _ = frameCounter(br, func() { hb.frames[i].Add(1) }) })
	}
	deadline := time.Now().Add(30 * time.Second)
	for h.Count() < members {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d connections registered", h.Count(), members)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return hb
}

// minFrames is the number of frames every member has received.
func (hb *hubBench) minFrames() int64 {
	m := hb.frames[0].Load()
	for i := range hb.frames {
		m = min(m, hb.frames[i].Load())
	}
	return m
}

// BenchmarkHubDeliver is the fan-out of one push to every member of a group that is online here:
// Hub.Deliver queues the shared frame on each connection and the connections' writers put it on the wire
// to loopback readers that only count frames. One op is one message to all members; at most window
// messages are in flight (below the send queue of 256, so nobody is cut off as a slow consumer). Reports
// deliveries/s and the latency from Deliver to the last member's read of each message.
func BenchmarkHubDeliver(b *testing.B) {
	for _, members := range []int{100, 1000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			hb := newHubBench(b, members)
			const window = 32
			delivered := make([]time.Time, 0, 1<<16)
			lat := make([]time.Duration, 0, 1<<16)
			start := make([]time.Time, 0, 1<<16)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				for int64(i)-hb.minFrames() >= window {
					time.Sleep(20 * time.Microsecond)
				}
				start = append(start, time.Now())
				hb.h.Deliver(hb.users, benchPush, "")
				// Note completions without blocking: the oldest messages every member has.
				for done := hb.minFrames(); int64(len(delivered)) < done; {
					delivered = append(delivered, time.Now())
				}
			}
			for hb.minFrames() < int64(b.N) {
				time.Sleep(20 * time.Microsecond)
				for done := hb.minFrames(); int64(len(delivered)) < done; {
					delivered = append(delivered, time.Now())
				}
			}
			b.StopTimer()
			for i := range delivered {
				lat = append(lat, delivered[i].Sub(start[i]))
			}
			b.ReportMetric(float64(b.N*members)/b.Elapsed().Seconds(), "deliveries/s")
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-last-ms")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-last-ms")
			}
		})
	}
}

// BenchmarkHubDeliverOffline is Deliver to 1000 users of whom none is connected here: the registry lookup
// alone (a group's offline members cost this much per message).
func BenchmarkHubDeliverOffline(b *testing.B) {
	hb := newHubBench(b, 10)
	users := make([]string, 1000)
	for i := range users {
		users[i] = fmt.Sprintf("offline%d", i)
	}
	b.ReportAllocs()
	for b.Loop() {
		hb.h.Deliver(users, benchPush, "")
	}
	b.ReportMetric(float64(b.N*len(users))/b.Elapsed().Seconds(), "lookups/s")
}

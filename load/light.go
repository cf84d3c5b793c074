package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/imspec/imserver/client"
)

// lightPush is what a light receiver reads from a 2001 push without decoding it.
type lightPush struct {
	SendID, GroupID, ClientMsgID string
	Received                     time.Time
}

// lightConn is a receive-only gateway connection that does not decode pushes: it finds sendID, groupID and
// clientMsgID in each 2001 frame by scanning the bytes, so that imload, which shares the machine with the
// server, spends a fraction of a microsecond per push instead of decoding every MsgData. Scenarios that
// fan out to many members use it for the receivers (--full-decode goes through package client instead).
type lightConn struct {
	ws   *websocket.Conn
	done chan struct{}
	err  error
}

var (
	lightClientsMu sync.Mutex
	lightClients   = map[string]*http.Client{}
)

func lightHTTPClient(localAddr string) *http.Client {
	lightClientsMu.Lock()
	defer lightClientsMu.Unlock()
	if c, ok := lightClients[localAddr]; ok {
		return c
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if ip := net.ParseIP(localAddr); ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DialContext: d.DialContext}}
	lightClients[localAddr] = c
	return c
}

// dialLight connects as client.Dial does (isMsgResp=true, the first frame must say errCode 0).
func dialLight(ctx context.Context, wsURL, token, userID string, platform int, localAddr string) (*lightConn, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("token", token)
	q.Set("userID", userID)
	q.Set("platformID", strconv.Itoa(platform))
	q.Set("operationID", client.NewID("imload"))
	q.Set("isMsgResp", "true")
	u.RawQuery = q.Encode()
	ws, res, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: lightHTTPClient(localAddr)})
	if err != nil {
		if res != nil && res.Body != nil {
			res.Body.Close()
		}
		return nil, fmt.Errorf("dial %s: %w", wsURL, err)
	}
	ws.SetReadLimit(16 << 20)
	_, first, err := ws.Read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("read the connect result: %w", err)
	}
	var ack struct {
		ErrCode *int   `json:"errCode"`
		ErrMsg  string `json:"errMsg"`
	}
	if json.Unmarshal(first, &ack) != nil || ack.ErrCode == nil {
		ws.CloseNow()
		return nil, fmt.Errorf("the first frame is not a connect result: %.200s", first)
	}
	if *ack.ErrCode != 0 {
		ws.CloseNow()
		return nil, &client.APIError{Code: *ack.ErrCode, Msg: ack.ErrMsg}
	}
	return &lightConn{ws: ws, done: make(chan struct{})}, nil
}

// run reads frames until the connection ends, calling onPush for each 2001 push (other frames are ignored).
func (c *lightConn) run(onPush func(lightPush)) {
	defer close(c.done)
	var buf bytes.Buffer
	for {
		_, r, err := c.ws.Reader(context.Background())
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			c.err = err
			c.ws.CloseNow()
			return
		}
		now := time.Now()
		b := buf.Bytes()
		if !bytes.Contains(b, []byte(`"reqIdentifier":2001`)) {
			continue
		}
		onPush(lightPush{
			SendID: jsonStringField(b, `"sendID":"`), GroupID: jsonStringField(b, `"groupID":"`),
			ClientMsgID: jsonStringField(b, `"clientMsgID":"`), Received: now,
		})
	}
}

// Done is closed when the connection has ended.
func (c *lightConn) Done() <-chan struct{} { return c.done }

// Close closes the connection with a normal close and waits (bounded) for the reader.
func (c *lightConn) Close() error {
	go func() { _ = c.ws.Close(websocket.StatusNormalClosure, "") }()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.ws.CloseNow()
	}
	return nil
}

// jsonStringField returns the value of the first string field whose key (with `":"`) is key; values with
// escapes are returned as written (imload's IDs have none).
func jsonStringField(b []byte, key string) string {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return ""
	}
	b = b[i+len(key):]
	j := bytes.IndexByte(b, '"')
	if j < 0 {
		return ""
	}
	return string(b[:j])
}

// dialLightAll opens light receivers for ids (spreading source addresses like dial); each runs onPush(i, p)
// in its own goroutine until the scenario ends.
func (r *runner) dialLightAll(ctx context.Context, ids, toks []string, onPush func(i int, p lightPush)) error {
	conns := make([]*lightConn, len(ids))
	var mu sync.Mutex
	var firstErr error
	parallel(len(ids), r.cfg.DialConcurrency, func(i int) {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		c, err := dialLight(cctx, r.nodeFor(i).WS, toks[i], ids[i], r.cfg.Platform, r.nodeFor(i).SourceIP(i, r.cfg.PerIP))
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("connection %d of %d (%s): %w", i+1, len(ids), ids[i], err)
			}
			mu.Unlock()
			return
		}
		conns[i] = c
		go c.run(func(p lightPush) { onPush(i, p) })
	})
	for _, c := range conns {
		if c != nil {
			r.closers = append(r.closers, c)
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

var _ io.Closer = (*lightConn)(nil)

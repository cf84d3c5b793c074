// Package client is a stand-in for github.com/imspec/imserver/client while that package is being written: it
// implements the subset of client/CONTRACT.md the conformance suite uses, with the same names, so that switching
// to the real package is a change of import path. Delete it once client/ compiles.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/imspec/imserver/gen/api"
)

// APIError is a reply whose errCode is not 0.
type APIError struct {
	Code     int
	Msg, Dlt string
}

func (e *APIError) Error() string { return fmt.Sprintf("errCode %d: %s", e.Code, e.Msg) }

// REST calls /api/v3 operations.
type REST struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

func (r *REST) httpClient() *http.Client {
	if r.HTTP != nil {
		return r.HTTP
	}
	return defaultHTTP
}

// Call POSTs body to BaseURL+path, returns *APIError when errCode != 0 and unmarshals data into out.
func (r *REST) Call(ctx context.Context, path string, body, out any) error {
	var b []byte
	switch v := body.(type) {
	case json.RawMessage:
		b = v
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	status, resp, err := r.Raw(ctx, path, b, nil)
	if err != nil {
		return err
	}
	var env struct {
		ErrCode int             `json:"errCode"`
		ErrMsg  string          `json:"errMsg"`
		ErrDlt  string          `json:"errDlt"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(resp, &env); err != nil {
		return fmt.Errorf("%s: HTTP %d, body is not the JSON envelope: %.200s", path, status, resp)
	}
	if env.ErrCode != 0 {
		return &APIError{Code: env.ErrCode, Msg: env.ErrMsg, Dlt: env.ErrDlt}
	}
	if out != nil && len(env.Data) > 0 && string(env.Data) != "null" {
		return json.Unmarshal(env.Data, out)
	}
	return nil
}

// Raw POSTs body and returns the HTTP status and the whole response body.
func (r *REST) Raw(ctx context.Context, path string, body []byte, header http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if r.Token != "" {
		req.Header.Set("token", r.Token)
	}
	for k, vs := range header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := r.httpClient().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, b, err
}

// API returns the oapi-codegen client with the token header applied to every request.
func (r *REST) API() (*api.ClientWithResponses, error) {
	tok := r.Token
	return api.NewClientWithResponses(r.BaseURL, api.WithHTTPClient(r.httpClient()),
		api.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			if tok != "" {
				req.Header.Set("token", tok)
			}
			return nil
		}))
}

// WSOptions configure a gateway connection.
type WSOptions struct {
	URL        string
	Token      string
	UserID     string
	PlatformID int
	LocalAddr  string
	Heartbeat  time.Duration
	PushBuffer int
}

// Frame is any frame the server sends.
type Frame struct {
	ReqIdentifier int             `json:"reqIdentifier"`
	MsgIncr       string          `json:"msgIncr"`
	OperationID   string          `json:"operationID"`
	ErrCode       int             `json:"errCode"`
	ErrMsg        string          `json:"errMsg"`
	Data          json.RawMessage `json:"data,omitempty"`
}

// Push is a decoded 2001 push.
type Push struct {
	Frame    Frame
	Msg      api.MsgData
	Received time.Time
}

// SendAck is the reply data of 1003.
type SendAck struct {
	ServerMsgID string `json:"serverMsgID"`
	ClientMsgID string `json:"clientMsgID"`
	SendTime    int64  `json:"sendTime"`
	Seq         int64  `json:"seq"`
}

// SeqRange is one range of a 1002 request.
type SeqRange struct {
	ConversationID string `json:"conversationID"`
	Begin          int64  `json:"begin"`
	End            int64  `json:"end"`
	Num            int64  `json:"num"`
}

// PullMsgs is one conversation's messages in a 1002 reply.
type PullMsgs struct {
	Msgs   []api.MsgData `json:"Msgs"`
	IsEnd  bool          `json:"isEnd"`
	EndSeq int64         `json:"endSeq"`
}

// PullResult is the data of a 1002 reply.
type PullResult struct {
	Msgs             map[string]PullMsgs `json:"msgs"`
	NotificationMsgs map[string]PullMsgs `json:"notificationMsgs"`
}

// WS is a gateway connection.
type WS struct {
	c      *websocket.Conn
	userID string
	incr   atomic.Int64
	mu     sync.Mutex
	wait   map[string]chan Frame
	pushes chan Push
	kicked chan struct{}
	done   chan struct{}
	err    error
	once   sync.Once
}

// Dial connects with isMsgResp=true and returns after the server's first frame said errCode 0.
func Dial(ctx context.Context, o WSOptions) (*WS, error) {
	q := url.Values{}
	q.Set("token", o.Token)
	q.Set("sendID", o.UserID)
	q.Set("platformID", strconv.Itoa(o.PlatformID))
	q.Set("isMsgResp", "true")
	q.Set("operationID", "conn-"+o.UserID)
	c, _, err := websocket.Dial(ctx, o.URL+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(16 << 20)
	_, b, err := c.Read(ctx)
	if err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("reading the connect result: %w", err)
	}
	var res struct {
		ErrCode int    `json:"errCode"`
		ErrMsg  string `json:"errMsg"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("connect result is not JSON: %.200s", b)
	}
	if res.ErrCode != 0 {
		c.CloseNow()
		return nil, &APIError{Code: res.ErrCode, Msg: res.ErrMsg}
	}
	buf := o.PushBuffer
	if buf <= 0 {
		buf = 1024
	}
	w := &WS{c: c, userID: o.UserID, wait: map[string]chan Frame{}, pushes: make(chan Push, buf),
		kicked: make(chan struct{}), done: make(chan struct{})}
	go w.read()
	return w, nil
}

func (w *WS) read() {
	defer close(w.done)
	defer close(w.pushes)
	for {
		_, b, err := w.c.Read(context.Background())
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		var f Frame
		if json.Unmarshal(b, &f) != nil {
			continue
		}
		switch {
		case f.ReqIdentifier == 2001:
			p := Push{Frame: f, Received: time.Now()}
			_ = json.Unmarshal(f.Data, &p.Msg)
			select {
			case w.pushes <- p:
			default:
			}
		case f.ReqIdentifier == 2002:
			w.once.Do(func() { close(w.kicked) })
		default:
			w.mu.Lock()
			ch := w.wait[f.MsgIncr]
			delete(w.wait, f.MsgIncr)
			w.mu.Unlock()
			if ch != nil {
				ch <- f
			}
		}
	}
}

// Request sends a request frame and waits for its reply.
func (w *WS) Request(ctx context.Context, reqIdentifier int, data any) (Frame, error) {
	incr := strconv.FormatInt(w.incr.Add(1), 10)
	raw, err := json.Marshal(data)
	if err != nil {
		return Frame{}, err
	}
	b, _ := json.Marshal(map[string]any{"reqIdentifier": reqIdentifier, "sendID": w.userID, "operationID": "op-" + incr,
		"msgIncr": incr, "data": json.RawMessage(raw)})
	ch := make(chan Frame, 1)
	w.mu.Lock()
	w.wait[incr] = ch
	w.mu.Unlock()
	if err := w.c.Write(ctx, websocket.MessageText, b); err != nil {
		return Frame{}, err
	}
	select {
	case f := <-ch:
		if f.ErrCode != 0 {
			return f, &APIError{Code: f.ErrCode, Msg: f.ErrMsg}
		}
		return f, nil
	case <-w.done:
		return Frame{}, fmt.Errorf("connection closed: %v", w.Err())
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

// SendMsg is Request(1003) decoding the reply.
func (w *WS) SendMsg(ctx context.Context, msg any) (SendAck, error) {
	f, err := w.Request(ctx, 1003, msg)
	var a SendAck
	if err == nil {
		err = json.Unmarshal(f.Data, &a)
	}
	return a, err
}

// NewestSeq is 1001.
func (w *WS) NewestSeq(ctx context.Context) (map[string]int64, map[string]int64, error) {
	f, err := w.Request(ctx, 1001, map[string]string{"userID": w.userID})
	if err != nil {
		return nil, nil, err
	}
	var d struct {
		MaxSeqs map[string]int64 `json:"maxSeqs"`
		MinSeqs map[string]int64 `json:"minSeqs"`
	}
	err = json.Unmarshal(f.Data, &d)
	return d.MaxSeqs, d.MinSeqs, err
}

// PullBySeq is 1002.
func (w *WS) PullBySeq(ctx context.Context, ranges []SeqRange) (PullResult, error) {
	var r PullResult
	f, err := w.Request(ctx, 1002, map[string]any{"userID": w.userID, "seqRanges": ranges})
	if err == nil {
		err = json.Unmarshal(f.Data, &r)
	}
	return r, err
}

// Pushes delivers every 2001 push in arrival order.
func (w *WS) Pushes() <-chan Push { return w.pushes }

// Kicked is closed when a 2002 arrives.
func (w *WS) Kicked() <-chan struct{} { return w.kicked }

// Done is closed when the connection ends.
func (w *WS) Done() <-chan struct{} { return w.done }

// Err tells why the connection ended.
func (w *WS) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		select {
		case <-w.done:
			return errors.New("closed")
		default:
		}
	}
	return w.err
}

// WriteRaw writes any text frame.
func (w *WS) WriteRaw(ctx context.Context, b []byte) error {
	return w.c.Write(ctx, websocket.MessageText, b)
}

// Close closes the connection.
func (w *WS) Close() error { return w.c.Close(websocket.StatusNormalClosure, "") }

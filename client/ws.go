package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/events"
)

// WSOptions configure a gateway connection.
type WSOptions struct {
	URL        string        // "ws://host:port/msg_gateway"
	Token      string        // sent as the token query parameter
	UserID     string        // the token's user; sent as userID and used as sendID of every request
	PlatformID int           // the token's platform
	LocalAddr  string        // optional source IP (e.g. "127.0.0.7") for load generators
	Heartbeat  time.Duration // 0: no client pings; >0: send a WebSocket ping this often
	PushBuffer int           // size of the Pushes channel; default 1024

	// HTTPClient dials the connection (nil: a client per LocalAddr, shared by all connections with the same
	// LocalAddr). When set, LocalAddr is ignored.
	HTTPClient *http.Client
	// ReadLimit is the largest frame accepted from the server; default 16 MiB.
	ReadLimit int64
	// Header is added to the upgrade request (e.g. to send the token as a header instead).
	Header http.Header
	// OperationID of the connect request; default a random one.
	OperationID string
	// RawPush, when set, receives every 2001 push undecoded (a frame containing "reqIdentifier":2001) on the
	// read loop, instead of Pushes(). For load generators, which cannot afford to decode every push on a
	// machine they share with the server; it must return quickly, and keep nothing of frame (its bytes are
	// reused for the next message).
	RawPush func(frame []byte, received time.Time)
}

// Frame is any frame the server sends: a reply (msgIncr echoed), a push (2001, 2002) or, with Type set, the
// text heartbeat {"type":"pong"}.
type Frame struct {
	ReqIdentifier int    `json:"reqIdentifier"`
	MsgIncr       string `json:"msgIncr"`
	OperationID   string `json:"operationID"`
	ErrCode       int    `json:"errCode"`
	ErrMsg        string `json:"errMsg"`
	// ErrDlt is a reply's errDlt; nil in frames without one (pushes), so a frame re-encodes as it came.
	ErrDlt *string         `json:"errDlt,omitempty"`
	Data   json.RawMessage `json:"data"`
	Type   string          `json:"type,omitempty"`
}

// Push is a decoded 2001 push.
type Push struct {
	Frame    Frame       // the frame as received
	Msg      api.MsgData // its data
	Received time.Time   // when the read loop got it
	// DecodeErr is set when data was not a MsgData (Msg is then zero).
	DecodeErr error
}

// SendAck is the reply data of 1003 SEND_MSG: where the message was stored (Seq 0 for typing).
type SendAck struct {
	ServerMsgID string `json:"serverMsgID"`
	ClientMsgID string `json:"clientMsgID"`
	SendTime    int64  `json:"sendTime"`
	Seq         int64  `json:"seq"`
}

// SeqRange is one conversation's range for PullBySeq.
type SeqRange = events.SeqRange

// PullResult is the reply data of 1002 PULL_MSG_BY_SEQ: chat messages in Msgs, the user's notification
// conversation in NotificationMsgs, both keyed by conversationID.
type PullResult = events.PullMessageBySeqsResp

// ErrClosed is the Err of a connection ended by Close.
var ErrClosed = errors.New("client: connection closed by Close")

// WS is one gateway connection. Its methods may be called from several goroutines; Request calls may overlap
// (replies are matched by msgIncr).
//
// A read loop delivers pushes to Pushes in arrival order. When the Pushes buffer is full the read loop waits
// for the reader, so replies behind a push wait too: read Pushes, or drain it, for as long as the connection is
// in use (a server closes a connection that does not keep up).
type WS struct {
	opts WSOptions
	conn *websocket.Conn

	incr    atomic.Uint64
	mu      sync.Mutex
	pending map[string]chan Frame

	pushes    chan Push
	other     chan Frame
	kicked    chan struct{}
	kickMsg   string // guarded by mu
	wasKicked bool   // guarded by mu
	done      chan struct{}
	err       error // set before done is closed
	stop      context.CancelFunc
	stopCtx   context.Context
	closing   atomic.Bool
	closingC  chan struct{} // closed when Close starts: pushes are no longer delivered
	closeOne  sync.Once
}

var transports sync.Map // LocalAddr → *http.Client

// pushMarker is how RawPush recognizes a push without decoding it. Inside a JSON string the quotes would be
// escaped, so only a frame's own reqIdentifier matches.
var pushMarker = []byte(`"reqIdentifier":2001`)

func httpClientFor(localAddr string) (*http.Client, error) {
	if localAddr == "" {
		return http.DefaultClient, nil
	}
	if c, ok := transports.Load(localAddr); ok {
		return c.(*http.Client), nil
	}
	ip := net.ParseIP(localAddr)
	if ip == nil {
		return nil, fmt.Errorf("LocalAddr %q is not an IP address", localAddr)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	c := &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         d.DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 4,
	}}
	actual, _ := transports.LoadOrStore(localAddr, c)
	return actual.(*http.Client), nil
}

// Dial connects with isMsgResp=true and returns after the server's first frame said errCode 0 (otherwise
// *APIError with that code). ctx bounds the connect only; the connection lives until Close, a kick, or the
// server closes it.
func Dial(ctx context.Context, o WSOptions) (*WS, error) {
	if o.PushBuffer <= 0 {
		o.PushBuffer = 1024
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 16 << 20
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("gateway URL: %w", err)
	}
	q := u.Query()
	if o.Token != "" {
		q.Set("token", o.Token)
	}
	q.Set("userID", o.UserID)
	q.Set("platformID", strconv.Itoa(o.PlatformID))
	if o.OperationID == "" {
		o.OperationID = OperationID(ctx)
	}
	q.Set("operationID", o.OperationID)
	q.Set("isMsgResp", "true")
	u.RawQuery = q.Encode()

	hc := o.HTTPClient
	if hc == nil {
		if hc, err = httpClientFor(o.LocalAddr); err != nil {
			return nil, err
		}
	}
	conn, res, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: hc, HTTPHeader: o.Header})
	if err != nil {
		if res != nil && res.Body != nil {
			res.Body.Close()
		}
		return nil, fmt.Errorf("dial %s: %w", o.URL, err)
	}
	conn.SetReadLimit(o.ReadLimit)
	_, first, err := conn.Read(ctx)
	if err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("read the connect result: %w", err)
	}
	var ack struct {
		ErrCode *int   `json:"errCode"`
		ErrMsg  string `json:"errMsg"`
	}
	if err := json.Unmarshal(first, &ack); err != nil || ack.ErrCode == nil {
		conn.CloseNow()
		return nil, fmt.Errorf("the first frame is not a connect result: %.200s", first)
	}
	if *ack.ErrCode != 0 {
		conn.CloseNow()
		return nil, &APIError{Code: *ack.ErrCode, Msg: ack.ErrMsg}
	}
	w := &WS{
		opts:     o,
		conn:     conn,
		pending:  map[string]chan Frame{},
		pushes:   make(chan Push, o.PushBuffer),
		other:    make(chan Frame, 256),
		kicked:   make(chan struct{}),
		done:     make(chan struct{}),
		closingC: make(chan struct{}),
	}
	w.stopCtx, w.stop = context.WithCancel(context.Background())
	go w.readLoop()
	if o.Heartbeat > 0 {
		go w.heartbeat(o.Heartbeat)
	}
	return w, nil
}

// UserID is the connection's user.
func (w *WS) UserID() string { return w.opts.UserID }

// PlatformID is the connection's platform.
func (w *WS) PlatformID() int { return w.opts.PlatformID }

// Conn is the underlying WebSocket (for tests that need to misbehave; do not Read from it).
func (w *WS) Conn() *websocket.Conn { return w.conn }

func (w *WS) readLoop() {
	var err error
	defer func() {
		w.mu.Lock()
		if w.closing.Load() {
			err = ErrClosed
		}
		w.err = err
		pend := w.pending
		w.pending = nil
		w.mu.Unlock()
		for _, ch := range pend {
			close(ch)
		}
		w.stop()
		close(w.pushes)
		close(w.other)
		close(w.done)
	}()
	var buf bytes.Buffer
	for {
		b, rerr := w.read(&buf)
		if rerr != nil {
			err = fmt.Errorf("connection ended: %w", rerr)
			w.conn.CloseNow()
			return
		}
		now := time.Now()
		if w.opts.RawPush != nil && bytes.Contains(b, pushMarker) {
			w.opts.RawPush(b, now)
			continue
		}
		var f Frame
		if jerr := decodeFrame(b, &f); jerr != nil {
			w.deliverOther(Frame{ErrMsg: "undecodable frame: " + string(b)})
			continue
		}
		switch {
		case f.Type != "":
			w.deliverOther(f)
		case f.ReqIdentifier == events.ReqPushMsg:
			p := Push{Frame: f, Received: now}
			if derr := json.Unmarshal(f.Data, &p.Msg); derr != nil {
				p.DecodeErr = derr
			}
			select {
			case w.pushes <- p:
			case <-w.closingC: // Close was called: nobody is going to read it; keep reading for the close frame
			case <-w.stopCtx.Done():
				err = ErrClosed
				return
			}
		case f.ReqIdentifier == events.ReqKickOnline:
			w.mu.Lock()
			if !w.wasKicked {
				w.wasKicked, w.kickMsg = true, f.ErrMsg
				close(w.kicked)
			}
			w.mu.Unlock()
		default:
			w.mu.Lock()
			ch, ok := w.pending[f.MsgIncr]
			if ok {
				delete(w.pending, f.MsgIncr)
			}
			w.mu.Unlock()
			if ok {
				ch <- f
			} else {
				w.deliverOther(f)
			}
		}
	}
}

// read is conn.Read into buf, which is reused from one message to the next (a load generator reads one
// frame per push): the read loop copies out of it whatever it keeps.
func (w *WS) read(buf *bytes.Buffer) ([]byte, error) {
	if buf.Cap() > 64<<10 {
		*buf = bytes.Buffer{} // one large reply does not stay with the connection
	}
	buf.Reset()
	_, r, err := w.conn.Reader(w.stopCtx)
	if err != nil {
		return nil, err
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (w *WS) deliverOther(f Frame) {
	select {
	case w.other <- f:
	default: // nobody reads Other: drop
	}
}

func (w *WS) heartbeat(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.stopCtx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(w.stopCtx, every+10*time.Second)
			err := w.conn.Ping(ctx)
			cancel()
			if err != nil && w.stopCtx.Err() == nil {
				w.conn.CloseNow() // no pong: the read loop ends with the error
				return
			}
		}
	}
}

// Request sends {reqIdentifier, sendID: UserID, operationID, msgIncr (unique per connection), data} and waits
// for the reply with the same msgIncr; a reply with errCode != 0 is returned as *APIError (with the frame).
// data may be any JSON-marshalable value, json.RawMessage/[]byte sent as is, or nil (no data).
func (w *WS) Request(ctx context.Context, reqIdentifier int, data any) (Frame, error) {
	var raw json.RawMessage
	if data != nil {
		b, err := marshalBody(data)
		if err != nil {
			return Frame{}, fmt.Errorf("encode data: %w", err)
		}
		raw = b
	}
	incr := strconv.FormatUint(w.incr.Add(1), 10)
	ch := make(chan Frame, 1)
	w.mu.Lock()
	if w.pending == nil {
		w.mu.Unlock()
		return Frame{}, w.Err()
	}
	w.pending[incr] = ch
	w.mu.Unlock()
	forget := func() {
		w.mu.Lock()
		if w.pending != nil {
			delete(w.pending, incr)
		}
		w.mu.Unlock()
	}
	b, err := json.Marshal(struct {
		ReqIdentifier int             `json:"reqIdentifier"`
		SendID        string          `json:"sendID"`
		OperationID   string          `json:"operationID"`
		MsgIncr       string          `json:"msgIncr"`
		Data          json.RawMessage `json:"data,omitempty"`
	}{reqIdentifier, w.opts.UserID, OperationID(ctx), incr, raw})
	if err != nil {
		forget()
		return Frame{}, err
	}
	if err := w.conn.Write(ctx, websocket.MessageText, b); err != nil {
		forget()
		return Frame{}, fmt.Errorf("write request %d: %w", reqIdentifier, err)
	}
	select {
	case f, ok := <-ch:
		if !ok {
			return Frame{}, w.Err()
		}
		if f.ErrCode != 0 {
			return f, &APIError{Code: f.ErrCode, Msg: f.ErrMsg}
		}
		return f, nil
	case <-ctx.Done():
		forget()
		return Frame{}, ctx.Err()
	}
}

// SendMsg is Request(1003) with msg (usually an api.MsgData, see TextMsg) decoding the reply
// {serverMsgID, clientMsgID, sendTime, seq}.
func (w *WS) SendMsg(ctx context.Context, msg any) (SendAck, error) {
	var a SendAck
	f, err := w.Request(ctx, events.ReqSendMsg, msg)
	if err != nil {
		return a, err
	}
	if err := decodeSendAck(f.Data, &a); err != nil {
		return a, fmt.Errorf("decode 1003 reply: %w", err)
	}
	return a, nil
}

// NewestSeq asks 1001 GET_NEWEST_SEQ: per conversationID, the newest and oldest seq the user may pull.
func (w *WS) NewestSeq(ctx context.Context) (maxSeqs, minSeqs map[string]int64, err error) {
	f, err := w.Request(ctx, events.ReqGetNewestSeq, events.GetMaxSeqReq{UserID: w.opts.UserID})
	if err != nil {
		return nil, nil, err
	}
	var r events.GetMaxSeqResp
	if err := json.Unmarshal(f.Data, &r); err != nil {
		return nil, nil, fmt.Errorf("decode 1001 reply: %w", err)
	}
	return r.MaxSeqs, r.MinSeqs, nil
}

// PullBySeq asks 1002 PULL_MSG_BY_SEQ for the given ranges (ascending order).
func (w *WS) PullBySeq(ctx context.Context, ranges []SeqRange) (PullResult, error) {
	var r PullResult
	f, err := w.Request(ctx, events.ReqPullMsgBySeq, events.PullMessageBySeqsReq{UserID: w.opts.UserID, SeqRanges: ranges})
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(f.Data, &r); err != nil {
		return r, fmt.Errorf("decode 1002 reply: %w", err)
	}
	return r, nil
}

// Pushes delivers every 2001 push in arrival order; it is closed after the connection ends.
func (w *WS) Pushes() <-chan Push { return w.pushes }

// Other delivers the frames that are neither pushes, kicks nor replies to a pending Request: replies to frames
// written with WriteRaw, error replies without a msgIncr, {"type":"pong"}, and frames that are not JSON (as a
// Frame whose ErrMsg starts with "undecodable frame: "). At most 256 wait; more are dropped. It is closed after
// the connection ends.
func (w *WS) Other() <-chan Frame { return w.other }

// Kicked is closed when a 2002 KickOnlineMsg arrives (the server closes the connection right after).
func (w *WS) Kicked() <-chan struct{} { return w.kicked }

// KickReason is the errMsg of the 2002 frame, or "" when not kicked.
func (w *WS) KickReason() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.kickMsg
}

// Done is closed when the connection has ended, for any reason.
func (w *WS) Done() <-chan struct{} { return w.done }

// Err tells why the connection ended (nil while it is open): ErrClosed after Close, otherwise the read error,
// which carries the close code when the server sent one (see CloseCode).
func (w *WS) Err() error {
	select {
	case <-w.done:
		return w.err
	default:
		return nil
	}
}

// CloseCode is the WebSocket close code the connection ended with (e.g. 4002 kicked, 4004 idle), or -1 when it
// is open or ended without a close frame.
func (w *WS) CloseCode() int {
	return int(websocket.CloseStatus(w.Err()))
}

// WriteRaw writes b as one text frame, whatever it holds (for conformance tests). Replies to it arrive on
// Other unless they match a pending Request.
func (w *WS) WriteRaw(ctx context.Context, b []byte) error {
	return w.conn.Write(ctx, websocket.MessageText, b)
}

// Ping sends the text heartbeat {"type":"ping"}; the server's {"type":"pong"} arrives on Other.
func (w *WS) Ping(ctx context.Context) error {
	return w.WriteRaw(ctx, []byte(`{"type":"ping"}`))
}

// Close closes the connection with a normal close frame and waits (at most 5 s) for the read loop to end.
// It is safe to call more than once and after the server closed the connection.
func (w *WS) Close() error {
	w.closeOne.Do(func() {
		select {
		case <-w.done:
			return
		default:
		}
		w.closing.Store(true)
		close(w.closingC)
		go func() { _ = w.conn.Close(websocket.StatusNormalClosure, "") }()
		select {
		case <-w.done:
		case <-time.After(5 * time.Second):
			w.conn.CloseNow()
			w.stop()
			<-w.done
		}
	})
	return nil
}

// TextMsg returns a text message (contentType 101, content {"content": text}) from sendID to the user
// recvID (sessionType 1) with a fresh clientMsgID, ready for SendMsg.
func TextMsg(sendID, recvID, text string) api.MsgData {
	return api.MsgData{
		SendID: sendID, RecvID: recvID, ClientMsgID: NewID("c"),
		SessionType: events.SessionSingleChat, ContentType: events.ContentText, MsgFrom: events.MsgFromUser,
		Content: TextContent(text), CreateTime: time.Now().UnixMilli(),
	}
}

// GroupTextMsg is TextMsg for the group groupID (sessionType 3).
func GroupTextMsg(sendID, groupID, text string) api.MsgData {
	m := TextMsg(sendID, "", text)
	m.GroupID, m.SessionType = groupID, events.SessionGroupChat
	return m
}

// TextContent is the content string of a text message: the JSON text of {"content": text}.
func TextContent(text string) string {
	b, _ := json.Marshal(events.TextElem{Content: text})
	return string(b)
}

// Text returns the text of a text message's content ({"content"} or {"text"}, or the content itself when it is
// not JSON).
func Text(m api.MsgData) string {
	var e events.TextElem
	if json.Unmarshal([]byte(m.Content), &e) != nil {
		return m.Content
	}
	if e.Content != "" {
		return e.Content
	}
	return e.Text
}

// DecodeTips returns the Tips of a notification push: a pointer to the gen/events struct for its contentType
// (e.g. *events.RevokeMsgTips for 2101), decoded from content's {"detail": "<Tips JSON>"}.
func DecodeTips(p Push) (any, error) { return DecodeTipsMsg(p.Msg) }

// DecodeTipsMsg is DecodeTips for a message (from a push or a pull).
func DecodeTipsMsg(m api.MsgData) (any, error) {
	tips := events.NewTips(int(m.ContentType))
	if tips == nil {
		return nil, fmt.Errorf("contentType %d is not a notification", m.ContentType)
	}
	var elem events.NotificationElem
	if err := json.Unmarshal([]byte(m.Content), &elem); err != nil {
		return nil, fmt.Errorf("contentType %d: content is not a NotificationElem: %w", m.ContentType, err)
	}
	if err := json.Unmarshal([]byte(elem.Detail), tips); err != nil {
		return nil, fmt.Errorf("contentType %d: detail: %w", m.ContentType, err)
	}
	return tips, nil
}

package gateway

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/imspec/imserver/gen/api"
	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/auth"
)

// authTimeout bounds the token check of an upgrade (it may query the database).
const authTimeout = 10 * time.Second

// ServeHTTP upgrades a request for Path to a WebSocket connection of the authenticated user (see the
// AsyncAPI document's "Connecting"). Query: token, userID or sendID, platformID, operationID, isMsgResp;
// the token may come instead in the header token or as Authorization: Bearer (in that order of precedence).
//
// With isMsgResp=true the upgrade always succeeds and the first frame is {"errCode":0,"errMsg":""}, or the
// error followed by a close with 4001. Without it a failed check answers HTTP 400/401/403 (500, 503) with the
// REST envelope as the body and no upgrade.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	msgResp, _ := strconv.ParseBool(q.Get("isMsgResp"))
	sdk := q.Get("sdkType") == sdkTypeJS
	opID := strings.Clone(q.Get("operationID"))
	if opID == "" {
		opID = newOperationID()
	}
	id, err := h.authenticate(r.Context(), r.Header, q)
	var refusal *apierr.Error
	status := http.StatusOK
	switch {
	case err != nil:
		if refusal = apierr.From(err); refusal == nil {
			h.log.Error("gateway: token check failed", "operationID", opID, "err", err)
			refusal = apierr.Internal()
		}
		status = httpStatus(refusal.Code)
		if sdk && msgResp {
			refusal = sdkRefusal(refusal, err)
		}
	case h.closing.Load():
		refusal = shuttingDown()
		status = http.StatusServiceUnavailable
	}
	if refusal != nil {
		h.m.refused.Inc()
		h.log.Debug("gateway: connection refused", "operationID", opID, "errCode", refusal.Code, "errMsg", refusal.Msg)
		if !msgResp {
			writeEnvelope(w, status, refusal)
			return
		}
	}

	c := &conn{hub: h, done: make(chan struct{})}
	hj := &sizedHijacker{ResponseWriter: w, readSize: h.opts.ReadBufferSize, writeSize: h.opts.WriteBufferSize}
	if h.poll != nil {
		hj.c = c
	}
	ws, err := websocket.Accept(hj, r, &websocket.AcceptOptions{
		InsecureSkipVerify: len(h.opts.OriginPatterns) == 0,
		OriginPatterns:     h.opts.OriginPatterns,
		OnPingReceived:     func(context.Context, []byte) bool { c.touch(); return true },
		OnPongReceived:     func(context.Context, []byte) { c.touch() },
	})
	if err != nil {
		h.log.Debug("gateway: upgrade failed", "operationID", opID, "err", err) // Accept has answered
		return
	}
	ws.SetReadLimit(h.opts.MaxFrameBytes)
	if refusal != nil {
		code := CloseAuthFailed
		if status == http.StatusServiceUnavailable {
			code = CloseGoingAway
		}
		refuse(ws, hj.conn, refusal, code, h.opts.WriteTimeout)
		return
	}

	c.ws, c.raw, c.cork, c.pc = ws, hj.conn, hj.cork, hj.pc
	c.info = ConnInfo{Identity: id, ConnID: h.newConnID(), OperationID: opID, SDK: sdk}
	c.info.Token = "" // only the recheck below needs it; a JWT is a few hundred bytes per idle connection
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.sem = make(chan struct{}, h.opts.MaxInFlight)
	c.timer = time.AfterFunc(math.MaxInt64, c.onTimer)
	c.touch()
	if msgResp {
		c.queue = [][]byte{okAckWire}
	}
	// Reserve the write side until the connection is registered, so that the client cannot see the ack
	// (and act on it) before pushes can reach it. A push queued meanwhile waits behind the ack.
	c.writing = true
	if !h.register(c) {
		c.timer.Stop()
		c.cancel()
		var e *apierr.Error
		if msgResp {
			e = shuttingDown()
		}
		refuse(ws, hj.conn, e, CloseGoingAway, h.opts.WriteTimeout)
		return
	}
	// A forbid or a newer login that committed after the check above, and whose kick reached this process
	// before c was registered, found nothing to close: check again now that a kick would find c. Until the
	// writer starts, this goroutine still owns the socket's write side.
	if refusal := h.recheck(r.Context(), id, opID, sdk); refusal != nil {
		c.timer.Stop()
		c.cancel()
		c.mu.Lock()
		c.closing, c.closeAfter, c.queue = true, false, nil
		c.mu.Unlock()
		h.unregister(c)
		h.m.refused.Inc()
		if msgResp {
			refuse(ws, hj.conn, refusal, CloseAuthFailed, h.opts.WriteTimeout)
		} else {
			closeBounded(ws, hj.conn, CloseAuthFailed, refusal.Msg, h.opts.WriteTimeout)
		}
		return
	}
	c.timer.Reset(h.firstTimer())
	go c.writeLoop()
	// The client has sent nothing past the handshake (else pc is nil): the connection starts parked. Without
	// the poller the reader gets a goroutine of its own rather than keeping this one: net/http's connection
	// goroutine has grown its stack serving the handshake, and a fresh one starts small.
	if c.pc == nil || !h.poll.track(c.pc) || !c.park() {
		go c.readLoop()
	}
}

// recheck checks a registered connection's token again; nil when it is still good. An SDK-profile
// connection's refusal carries OpenIM's token code (sdkRefusal).
func (h *Hub) recheck(ctx context.Context, id auth.Identity, opID string, sdk bool) *apierr.Error {
	ctx, cancel := context.WithTimeout(ctx, authTimeout)
	defer cancel()
	if _, err := h.opts.Checker.Check(ctx, id.Token); err != nil {
		if e := apierr.From(err); e != nil {
			if sdk {
				e = sdkRefusal(e, err)
			}
			return e
		}
		h.log.Error("gateway: token recheck failed", "operationID", opID, "err", err)
		return apierr.Internal()
	}
	return nil
}

// refuse writes the isMsgResp error frame (when e is not nil) and closes with code.
func refuse(ws *websocket.Conn, raw net.Conn, e *apierr.Error, code websocket.StatusCode, timeout time.Duration) {
	reason := "the server is shutting down"
	if e != nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		_ = ws.Write(ctx, websocket.MessageText, mustJSON(events.ConnectResult{ErrCode: int(e.Code), ErrMsg: e.Msg}))
		cancel()
		reason = e.Msg
	}
	closeBounded(ws, raw, code, reason, timeout)
}

func shuttingDown() *apierr.Error {
	return &apierr.Error{Code: api.ErrCodeInternalError, Msg: "the server is shutting down; reconnect in a moment"}
}

// closeBounded closes ws with a close handshake that may take at most timeout: coder/websocket waits up to
// 5 s to write the close frame and 5 s more for the peer's answer, which a client that stopped reading
// never sends. Past timeout the raw connection is closed under it.
func closeBounded(ws *websocket.Conn, raw net.Conn, code websocket.StatusCode, reason string, timeout time.Duration) {
	t := time.AfterFunc(timeout, func() { _ = raw.Close() })
	_ = ws.Close(code, closeReason(reason))
	t.Stop()
}

func (h *Hub) firstTimer() time.Duration {
	if h.opts.PingInterval > 0 {
		return h.opts.PingInterval
	}
	return h.opts.IdleTimeout
}

// authenticate checks the upgrade's token and that it belongs to the userID and platformID asked for.
func (h *Hub) authenticate(ctx context.Context, hdr http.Header, q url.Values) (auth.Identity, error) {
	token := q.Get("token")
	if token == "" {
		token = hdr.Get("token")
	}
	if token == "" {
		if a := hdr.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			token = strings.TrimSpace(a[7:])
		}
	}
	if token == "" {
		return auth.Identity{}, apierr.TokenInvalid("token is required: pass it as the query parameter token, the header token or Authorization: Bearer")
	}
	userID, sendID := q.Get("userID"), q.Get("sendID")
	switch {
	case userID == "":
		userID = sendID
	case sendID != "" && sendID != userID:
		return auth.Identity{}, apierr.Args("userID %s and sendID %s differ; they are synonyms, give one", userID, sendID)
	}
	if userID == "" {
		return auth.Identity{}, apierr.Args("userID (or sendID) is required")
	}
	if !auth.ValidUserID(userID) {
		return auth.Identity{}, apierr.Args("userID %.80q is not a user ID: 1 to %d characters of A-Z a-z 0-9 . @ + -, starting with a letter or digit", userID, auth.MaxUserIDLen)
	}
	ps := q.Get("platformID")
	if ps == "" {
		return auth.Identity{}, apierr.Args("platformID is required")
	}
	platformID, err := strconv.Atoi(ps)
	if err != nil || platformID < math.MinInt32 || platformID > math.MaxInt32 || !api.PlatformID(platformID).Valid() {
		return auth.Identity{}, apierr.Args("platformID %q is not a platform (1 to 12)", ps)
	}

	ctx, cancel := context.WithTimeout(ctx, authTimeout)
	defer cancel()
	id, err := h.opts.Checker.Check(ctx, token)
	if err != nil {
		return auth.Identity{}, err
	}
	if id.UserID != userID {
		return auth.Identity{}, apierr.NoPermission("the token belongs to user %s, not %s", id.UserID, userID)
	}
	if id.PlatformID != platformID {
		return auth.Identity{}, apierr.NoPermission("the token is for platformID %d, not %d", id.PlatformID, platformID)
	}
	// The strings may share memory with the request's URL; a long-lived connection should not pin it. The
	// token itself is not kept (ConnInfo).
	id.UserID, id.TokenID = strings.Clone(id.UserID), strings.Clone(id.TokenID)
	return id, nil
}

func httpStatus(code api.ErrCode) int {
	switch code {
	case api.ErrCodeArgsError:
		return http.StatusBadRequest
	case api.ErrCodeTokenInvalid:
		return http.StatusUnauthorized
	case api.ErrCodeNoPermission:
		return http.StatusForbidden
	default:
		return http.StatusInternalServerError
	}
}

// writeEnvelope answers a refused upgrade with the REST envelope.
func writeEnvelope(w http.ResponseWriter, status int, e *apierr.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		ErrCode int    `json:"errCode"`
		ErrMsg  string `json:"errMsg"`
		ErrDlt  string `json:"errDlt"`
	}{int(e.Code), e.Msg, e.Dlt})
}

func newOperationID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "gw-" + hex.EncodeToString(b[:])
}

// sizedHijacker hands coder/websocket a hijacked connection with buffers of the configured sizes instead of
// net/http's 4 KiB reader and 4 KiB writer, which every idle connection would otherwise keep for its life.
type sizedHijacker struct {
	http.ResponseWriter
	readSize, writeSize int
	c                   *conn     // set when the Hub has a poller: the connection reads through a pollConn
	conn                net.Conn  // the hijacked connection (pc, when there is one)
	cork                *corkConn // under the write buffer; nil when net/http's buffers were kept
	pc                  *pollConn
}

// Unwrap lets http.ResponseController and coder/websocket reach the wrapped writer.
func (w *sizedHijacker) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes over the connection. When the client already sent bytes past the handshake, net/http's
// reader holds them and is kept as it is.
func (w *sizedHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	w.conn = nc
	if err == nil {
		// A hijacked connection may keep the server's deadlines of the request (net/http clears its read
		// deadline today, not a write deadline); a WebSocket lives past them, bounded by the gateway's own.
		_ = nc.SetDeadline(time.Time{})
	}
	if err != nil || brw.Reader.Buffered() > 0 || brw.Writer.Buffered() > 0 {
		return nc, brw, err
	}
	w.cork = &corkConn{Conn: nc}
	var br *bufio.Reader
	if sc, ok := nc.(syscall.Conn); ok && w.c != nil {
		if rc, err := sc.SyscallConn(); err == nil {
			w.pc = &pollConn{Conn: nc, rc: rc, c: w.c}
			w.conn = w.pc
			br = bufio.NewReaderSize(w.pc, 16) // bufio's least; pollConn buffers from a pool (ReadBufferSize)
		}
	}
	if br == nil {
		br = bufio.NewReaderSize(nc, w.readSize)
	}
	return w.conn, bufio.NewReadWriter(br, bufio.NewWriterSize(w.cork, w.writeSize)), nil
}

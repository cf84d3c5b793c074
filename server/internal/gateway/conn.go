package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/imspec/imserver/gen/events"
	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/strictjson"
)

// conn is one registered WebSocket connection. See doc.go for which goroutine touches what.
type conn struct {
	hub  *Hub
	ws   *websocket.Conn
	raw  net.Conn  // under ws; closed directly to cut a close handshake short
	cork *corkConn // between ws's write buffer and raw; nil when the hijack kept net/http's buffers
	pc   *pollConn // raw, when idle reads park in the Hub's poller; nil: the reader never parks
	info ConnInfo

	ctx    context.Context // ends when the connection starts closing; parent of every Handle call
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader has finished and the connection left the registry
	sem    chan struct{} // one token per request in flight (cap MaxInFlight)
	timer  *time.Timer   // idle check and server ping; runs onTimer
	seen   atomic.Int64  // last inbound frame, ping or pong

	background atomic.Bool

	mu         sync.Mutex // guards the fields below; never held while taking another lock or doing I/O
	queue      [][]byte   // frames waiting for the writer; nil when empty so an idle conn holds no array
	writing    bool       // a writer goroutine owns the socket's write side (or is reserved to start)
	closing    bool       // no more frames are accepted
	closeAfter bool       // the writer closes the socket with closeCode once queue is empty
	closeCode  websocket.StatusCode
	closeMsg   string
}

// enqueue queues the frame with payload for the writer (enqueueWire).
func (c *conn) enqueue(payload []byte) bool { return c.enqueueWire(c.wire(payload)) }

// enqueueWire queues a complete WebSocket frame (wsFrame) for the writer, starting one when none runs. A
// full queue closes the connection (slow consumer) instead of waiting. It reports whether frame was queued.
func (c *conn) enqueueWire(frame []byte) bool {
	queued, start := c.push(frame)
	if start {
		go c.writeLoop()
	}
	return queued
}

// enqueueDeferred is enqueueWire for DeliverBatch: it reports whether the caller must start the writer
// (soon: the connection counts as having one).
func (c *conn) enqueueDeferred(frame []byte) bool {
	_, start := c.push(frame)
	return start
}

// push queues frame; start says that no writer runs and one must be started (c.writing is set already).
func (c *conn) push(frame []byte) (queued, start bool) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false, false
	}
	if len(c.queue) >= c.hub.opts.SendQueue {
		c.closing = true
		c.queue = nil
		c.mu.Unlock()
		c.hub.m.slow.Inc()
		c.hub.log.Warn("gateway: closing slow consumer", "userID", c.info.UserID, "platformID", c.info.PlatformID,
			"connID", c.info.ConnID, "operationID", c.info.OperationID)
		go c.closeWS(ClosePolicyViolation, "slow consumer")
		return false, false
	}
	c.queue = append(c.queue, frame)
	start = !c.writing
	c.writing = true
	c.mu.Unlock()
	return true, start
}

// closeAfterFlush stops accepting frames, queues frame (when not nil, even past the queue's limit), and
// has the writer close the socket with code once everything queued is written.
func (c *conn) closeAfterFlush(frame []byte, code websocket.StatusCode, reason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	if frame != nil {
		c.queue = append(c.queue, c.wire(frame))
	}
	c.closeAfter, c.closeCode, c.closeMsg = true, code, reason
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// writeLoop is the only goroutine that writes data frames to the socket. It runs while frames are
// queued and exits when the queue is empty, so an idle connection has no writer goroutine. When several
// frames are waiting it writes them with one write(2) (corkConn.writeFrames).
func (c *conn) writeLoop() {
	var batch [][]byte
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.queue = nil
			c.writing = false
			closeAfter, code, reason := c.closeAfter, c.closeCode, c.closeMsg
			c.closeAfter = false
			c.mu.Unlock()
			if closeAfter {
				c.closeWS(code, reason)
			}
			return
		}
		n, size := 0, 0
		for n < len(c.queue) && n < corkMaxFrames && (n == 0 || size+len(c.queue[n]) <= corkMaxBytes) {
			size += len(c.queue[n])
			n++
		}
		batch = append(batch[:0], c.queue[:n]...)
		clear(c.queue[:n])
		c.queue = c.queue[n:]
		c.mu.Unlock()

		err := c.writeFrames(batch)
		clear(batch)
		if err != nil {
			// The socket is unusable (coder/websocket closes it on a write past its deadline): no close frame
			// can get through, so drop it; the reader then takes the connection out of the registry.
			c.mu.Lock()
			c.closing, c.closeAfter, c.queue, c.writing = true, false, nil, false
			c.mu.Unlock()
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
				c.hub.m.slow.Inc()
				c.hub.log.Warn("gateway: dropping slow consumer (write timeout)", "userID", c.info.UserID,
					"platformID", c.info.PlatformID, "connID", c.info.ConnID, "operationID", c.info.OperationID)
			}
			c.drop()
			return
		}
		c.hub.m.framesOut.Add(float64(len(batch)))
	}
}

// writeFrames writes frames (complete WebSocket frames) within WriteTimeout, in one write(2) (corkConn).
func (c *conn) writeFrames(frames [][]byte) error {
	if c.cork != nil {
		return c.cork.writeFrames(frames, c.hub.opts.WriteTimeout)
	}
	// net/http's buffers were kept (the client sent bytes past the handshake): through coder/websocket.
	ctx, cancel := context.WithTimeout(context.Background(), c.hub.opts.WriteTimeout)
	defer cancel()
	for _, f := range frames {
		typ, p := wsPayload(f)
		if err := c.ws.Write(ctx, typ, p); err != nil {
			if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
				// coder/websocket reports a write cut by its deadline in more than one way: the deadline says it.
				err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
			}
			return err
		}
	}
	return nil
}

// closeWS takes the connection out of the registry and ends it with a close handshake of at most
// WriteTimeout. It is never called by a publisher: only by the writer, the timer or a goroutine of its own.
func (c *conn) closeWS(code websocket.StatusCode, reason string) {
	c.hub.unregister(c)
	c.cancel() // unblocks a reader waiting for a request slot and tells Handle calls to give up
	closeBounded(c.ws, c.raw, code, reason, c.hub.opts.WriteTimeout)
}

// readLoop is the connection's reader goroutine: it owns the read side of the socket (coder/websocket
// answers pings while it reads) and, when the socket fails or closes, takes the connection out of the
// registry. When the client has sent nothing more it parks the connection and exits (pollConn); the poller
// starts another readLoop when the socket is readable.
func (c *conn) readLoop() {
	for {
		_, b, err := c.ws.Read(context.Background())
		if err != nil {
			if c.pc != nil && errors.Is(err, errParked) {
				if c.park() {
					return
				}
				continue
			}
			if s := websocket.CloseStatus(err); s == -1 && !c.isClosing() {
				c.hub.log.Debug("gateway: read", "userID", c.info.UserID, "connID", c.info.ConnID, "operationID", c.info.OperationID, "err", err)
			}
			c.finish()
			return
		}
		c.touch()
		c.hub.m.framesIn.Inc()
		c.handle(b)
	}
}

func (c *conn) finish() {
	c.hub.unregister(c)
	c.timer.Stop()
	c.cancel()
	c.mu.Lock()
	c.closing, c.closeAfter, c.queue = true, false, nil
	c.mu.Unlock()
	_ = c.ws.CloseNow()
	if c.pc != nil {
		c.hub.poll.untrack(c.pc)
	}
	close(c.done)
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// handle answers one inbound frame. Frames that are not JSON, or whose fields have the wrong types, get a
// 1001 reply and the connection stays open: the client learns what it did wrong, and the damage a noisy
// client can do is bounded by the read limit and its own send queue.
func (c *conn) handle(b []byte) {
	var req request
	if err := decodeFrame(b, &req); err != nil {
		c.reply(&req, nil, err) // the fields that decoded are echoed so the client can match the reply
		return
	}
	switch {
	case req.Type == "ping":
		c.enqueue(pongFrame)
		return
	case req.Type != "" && req.ReqIdentifier == 0: // a "pong" or a heartbeat we do not know: traffic, nothing more
		return
	case req.ReqIdentifier == 0:
		c.reply(&req, nil, apierr.Args("reqIdentifier is required"))
		return
	case req.SendID == "":
		c.reply(&req, nil, apierr.Args("sendID is required"))
		return
	case req.OperationID == "":
		c.reply(&req, nil, apierr.Args("operationID is required"))
		return
	case req.MsgIncr == "":
		c.reply(&req, nil, apierr.Args("msgIncr is required"))
		return
	case req.SendID != c.info.UserID:
		c.reply(&req, nil, apierr.NoPermission("sendID %s is not the user of this connection (%s)", req.SendID, c.info.UserID))
		return
	}
	switch req.ReqIdentifier {
	case events.ReqLogout:
		c.closeAfterFlush(c.encode(&req, nil, nil), CloseNormal, "logout")
	case events.ReqSetBackgroundStatus:
		if c.info.SDK {
			c.setBackgroundSDK(&req)
			return
		}
		var d setBackground
		switch err := strictjson.Unmarshal(req.Data, &d); {
		case len(req.Data) == 0 || err != nil:
			c.reply(&req, nil, apierr.Args("data must be {\"userID\": string, \"isBackground\": bool}"))
		case d.UserID == "":
			c.reply(&req, nil, apierr.Args("data.userID is required"))
		case d.IsBackground == nil:
			c.reply(&req, nil, apierr.Args("data.isBackground is required"))
		case d.UserID != c.info.UserID:
			c.reply(&req, nil, apierr.NoPermission("data.userID %s is not the user of this connection (%s)", d.UserID, c.info.UserID))
		default:
			c.background.Store(*d.IsBackground)
			c.reply(&req, nil, nil)
		}
	default:
		c.dispatch(&req)
	}
}

// dispatch hands req to the Backend in a goroutine of its own once a request slot is free.
func (c *conn) dispatch(req *request) {
	select {
	case c.sem <- struct{}{}:
	default:
		select { // every slot busy: stop reading this connection until one frees
		case c.sem <- struct{}{}:
		case <-c.ctx.Done():
			return
		}
	}
	go func() {
		defer func() { <-c.sem }()
		ctx := context.WithValue(c.ctx, ctxKey{}, req.OperationID)
		data, err := c.call(ctx, req)
		c.reply(req, data, err)
	}()
}

func (c *conn) call(ctx context.Context, req *request) (data any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("backend panicked: %v", r)
		}
	}()
	return c.hub.opts.Backend.Handle(ctx, c.info, int(req.ReqIdentifier), req.Data)
}

// reply queues the answer to req.
func (c *conn) reply(req *request, data any, err error) {
	c.enqueue(c.encode(req, data, err))
	if c.info.SDK {
		c.followPush(req, data, err)
	}
}

// encode builds the reply frame to req; err maps to errCode/errMsg once, here.
func (c *conn) encode(req *request, data any, err error) []byte {
	if c.info.SDK {
		return c.encodeSDK(req, data, err)
	}
	r := events.ReplyFrame{ReqIdentifier: req.ReqIdentifier, MsgIncr: req.MsgIncr, OperationID: req.OperationID}
	raw := false // r.Data is the Backend's text, which json.Marshal checks and compacts
	var app JSONAppender
	if err == nil && data != nil {
		switch d := data.(type) {
		case json.RawMessage:
			r.Data, raw = d, true
		case []byte:
			r.Data, raw = d, true
		case JSONAppender:
			app = d
		default:
			r.Data, err = json.Marshal(data)
			if err != nil {
				err = fmt.Errorf("marshal reply data: %w", err)
			}
		}
	}
	if err != nil {
		r.Data, app = nil, nil
		e, internal := apierr.Of(err)
		if internal {
			lvl := slog.LevelError
			if c.isClosing() && errors.Is(err, context.Canceled) {
				lvl = slog.LevelDebug // the connection went away mid-request; nobody is waiting for the reply
			}
			c.hub.log.Log(context.Background(), lvl, "gateway request failed", "operationID", req.OperationID, "reqIdentifier", req.ReqIdentifier,
				"userID", c.info.UserID, "connID", c.info.ConnID, "errCode", int(e.Code), "err", err)
		}
		r.ErrCode, r.ErrMsg, r.ErrDlt = int(e.Code), e.Msg, e.Dlt
	}
	if !raw {
		return appendReplyFrame(nil, &r, app) // r.Data, if any, is already as json.Marshal writes it
	}
	b, err := json.Marshal(r)
	if err != nil { // data was not valid JSON text (a json.RawMessage from the Backend)
		c.hub.log.Error("gateway reply is not valid JSON", "operationID", req.OperationID, "reqIdentifier", req.ReqIdentifier, "err", err)
		e := apierr.Internal()
		r.Data, r.ErrCode, r.ErrMsg = nil, int(e.Code), e.Msg
		b = mustJSON(r)
	}
	return b
}

// touch records inbound traffic for the idle check.
func (c *conn) touch() { c.seen.Store(time.Now().UnixNano()) }

// onTimer runs in the timer's own goroutine: it closes a connection silent for IdleTimeout, pings one
// silent for PingInterval, and re-arms itself for the next deadline.
func (c *conn) onTimer() {
	if c.ctx.Err() != nil {
		return
	}
	o := &c.hub.opts
	silent := time.Duration(time.Now().UnixNano() - c.seen.Load())
	if silent >= o.IdleTimeout {
		c.hub.m.idleCloses.Inc()
		c.closeWS(CloseIdleTimeout, "idle timeout")
		return
	}
	if o.PingInterval > 0 && silent >= o.PingInterval {
		// Wait for the pong at most until the idle deadline; the pong itself updates seen.
		// Not derived from c.ctx: a child context would leave c.ctx a children map for the life of the
		// connection. A closing connection ends the ping anyway (coder/websocket's Ping sees the close).
		ctx, cancel := context.WithTimeout(context.Background(), min(o.WriteTimeout, o.IdleTimeout-silent))
		_ = c.ws.Ping(ctx)
		cancel()
		if c.ctx.Err() != nil {
			return
		}
	}
	silent = time.Duration(time.Now().UnixNano() - c.seen.Load())
	next := o.IdleTimeout - silent
	if o.PingInterval > 0 && silent < o.PingInterval {
		next = o.PingInterval - silent
	}
	c.timer.Reset(max(next, time.Millisecond))
}

// shutdown is Hub.Close for one connection: wait for the requests in flight (taking every request slot,
// which also keeps the reader from starting new ones), flush their replies, close with 1001.
func (c *conn) shutdown(ctx context.Context) {
	for range cap(c.sem) {
		select {
		case c.sem <- struct{}{}:
		case <-c.done:
			return
		case <-ctx.Done():
			c.drop()
			return
		}
	}
	c.closeAfterFlush(nil, CloseGoingAway, "server shutting down")
	select {
	case <-c.done:
	case <-ctx.Done():
		c.drop()
	}
}

// drop closes the socket under coder/websocket, without a handshake (even one under way).
func (c *conn) drop() {
	c.cancel()
	_ = c.raw.Close()
}

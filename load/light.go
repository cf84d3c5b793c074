//go:build linux

package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/imspec/imserver/client"
)

// lightConn is a receive-only gateway connection that does not decode pushes: it finds sendID, groupID and
// clientMsgID in each 2001 frame by scanning the bytes, so that imload, which shares the machine with the
// server, spends as little as it can per push. Scenarios that fan out to many members use it for the
// receivers (--full-decode goes through package client instead).
//
// After its handshake (done here, not by a WebSocket library) the socket leaves Go's network poller: a few
// poller goroutines (lightPollers) wait on all light sockets with epoll, read each ready socket once into a
// big buffer and cut the WebSocket frames themselves. Per server write that is one read(2), where a
// goroutine per connection costs a read, a read that finds nothing, and a park and wake-up.
type lightConn struct {
	fd     int // owned by the poller: only it closes fd, under mu
	onPush func(lightPush)
	carry  []byte // the start of a frame whose rest has not arrived yet
	done   chan struct{}

	mu     sync.Mutex // guards closed and writes to fd (pongs, the close frame)
	closed bool
	err    error
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
	d := &net.Dialer{Timeout: 30 * time.Second}
	if ip := net.ParseIP(localAddr); ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
		// The source port is picked by connect, not bind: bind alone runs out of ports when many sockets
		// of earlier runs sit in TIME_WAIT.
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1) })
		}
	}
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", wsURL, err)
	}
	c, br, err := lightHandshake(ctx, nc, u)
	if err != nil {
		nc.Close()
		return nil, err
	}
	// Hand the socket to the poller: a duplicate descriptor of its own, the net.Conn closed.
	raw, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		nc.Close()
		return nil, err
	}
	var fd int
	var dupErr error
	if err := raw.Control(func(f uintptr) { fd, dupErr = syscall.Dup(int(f)) }); err != nil || dupErr != nil {
		nc.Close()
		return nil, fmt.Errorf("dup the socket: %w", errors.Join(err, dupErr))
	}
	nc.Close()
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	c.fd = fd
	if n := br.Buffered(); n > 0 { // pushes that came with the connect ack
		c.carry, _ = br.Peek(n)
		c.carry = bytes.Clone(c.carry)
	}
	return c, nil
}

// lightHandshake upgrades nc to a WebSocket and reads the connect result.
func lightHandshake(ctx context.Context, nc net.Conn, u *url.URL) (*lightConn, *bufio.Reader, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if _, err := fmt.Fprintf(nc, "GET %s?%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n", path, u.RawQuery, u.Host, key); err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(nc, 4096)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("dial %s: %w", u.Host, err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		res.Body.Close()
		return nil, nil, fmt.Errorf("dial %s: HTTP %d: %s", u.Host, res.StatusCode, body)
	}
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if res.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(h[:]) {
		return nil, nil, fmt.Errorf("dial %s: bad Sec-WebSocket-Accept", u.Host)
	}
	var first []byte
	for first == nil {
		op, p, err := readFrame(br)
		if err != nil {
			return nil, nil, fmt.Errorf("read the connect result: %w", err)
		}
		switch op {
		case 0x1, 0x2:
			first = p
		case 0x8:
			return nil, nil, fmt.Errorf("read the connect result: closed (%.200q)", p)
		}
	}
	var ack struct {
		ErrCode *int   `json:"errCode"`
		ErrMsg  string `json:"errMsg"`
	}
	if json.Unmarshal(first, &ack) != nil || ack.ErrCode == nil {
		return nil, nil, fmt.Errorf("the first frame is not a connect result: %.200s", first)
	}
	if *ack.ErrCode != 0 {
		return nil, nil, &client.APIError{Code: *ack.ErrCode, Msg: ack.ErrMsg}
	}
	_ = nc.SetDeadline(time.Time{})
	return &lightConn{done: make(chan struct{})}, br, nil
}

// readFrame reads one unfragmented server frame (the gateway never fragments).
func readFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	var h [8]byte
	if _, err := io.ReadFull(br, h[:2]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(br, h[:2]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if _, err := io.ReadFull(br, h[:8]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(h[:8])
	}
	if n > 16<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(br, payload)
	return h[0] & 0x0f, payload, err
}

// run hands the connection to a poller, which calls onPush for each 2001 push (other frames are ignored)
// until the connection ends.
func (c *lightConn) run(onPush func(lightPush)) {
	c.onPush = onPush
	if len(c.carry) > 0 {
		c.consume(c.carry, time.Now())
	}
	if err := lightPollers().add(c); err != nil {
		c.mu.Lock()
		c.finishLocked(err)
		c.mu.Unlock()
	}
}

// consume cuts b (what arrived, after any carried partial frame) into frames; it keeps a trailing partial
// frame in carry.
func (c *lightConn) consume(b []byte, now time.Time) {
frames:
	for len(b) >= 2 {
		n, hl := uint64(b[1]&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				break frames
			}
			n, hl = uint64(binary.BigEndian.Uint16(b[2:4])), 4
		case 127:
			if len(b) < 10 {
				break frames
			}
			n, hl = binary.BigEndian.Uint64(b[2:10]), 10
		}
		if uint64(len(b)-hl) < n { // the payload has not all arrived
			break
		}
		p := b[hl : hl+int(n)]
		op := b[0] & 0x0f
		b = b[hl+int(n):]
		switch op {
		case 0x1, 0x2:
			if bytes.Contains(p, []byte(`"reqIdentifier":2001`)) {
				c.onPush(lightPush{
					SendID: jsonStringField(p, `"sendID":"`), GroupID: jsonStringField(p, `"groupID":"`),
					ClientMsgID: jsonStringField(p, `"clientMsgID":"`), Received: now,
				})
			}
		case 0x9: // ping: pong with the same payload
			c.mu.Lock()
			c.writeLocked(0xA, p)
			c.mu.Unlock()
		case 0x8:
			c.mu.Lock()
			c.writeLocked(0x8, p[:min(len(p), 2)])
			c.finishLocked(io.EOF)
			c.mu.Unlock()
			return
		}
	}
	c.carry = append(c.carry[:0], b...)
}

// writeLocked writes one masked client frame (payload at most 125 bytes) without blocking; a frame the
// socket has no room for is dropped (only pongs and the close frame are written).
func (c *lightConn) writeLocked(op byte, p []byte) {
	if c.closed {
		return
	}
	f := make([]byte, 0, 6+len(p))
	f = append(f, 0x80|op, 0x80|byte(len(p)), 0, 0, 0, 0) // mask key 0: the payload is unchanged
	f = append(f, p...)
	_, _ = syscall.Write(c.fd, f)
}

// finishLocked ends the connection: out of the poller, fd closed, done closed. The caller holds mu.
func (c *lightConn) finishLocked(err error) {
	if c.closed {
		return
	}
	c.closed, c.err = true, err
	if c.fd > 0 {
		lightPollers().remove(c)
		syscall.Close(c.fd)
	}
	close(c.done)
}

// Done is closed when the connection has ended.
func (c *lightConn) Done() <-chan struct{} { return c.done }

// Close sends a normal close and waits (bounded) for the server's; then it drops the connection.
func (c *lightConn) Close() error {
	c.mu.Lock()
	c.writeLocked(0x8, []byte{0x03, 0xe8})
	c.mu.Unlock()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.mu.Lock()
		c.finishLocked(errors.New("closed without the server's close frame"))
		c.mu.Unlock()
	}
	return nil
}

// pollers are the goroutines that read every light connection (epoll, level-triggered).
type pollers struct {
	eps  []int
	mu   sync.Mutex
	next int
	fds  sync.Map // fd -> *lightConn
}

var (
	lightPollersOnce sync.Once
	lightPollersV    *pollers
	lightPollersErr  error
)

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT (not in package syscall).
const ipBindAddressNoPort = 24

// lightPollers starts the pollers once per process: two, one per core imload may get.
func lightPollers() *pollers {
	lightPollersOnce.Do(func() {
		p := &pollers{}
		for range 2 {
			ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
			if err != nil {
				lightPollersErr = err
				return
			}
			p.eps = append(p.eps, ep)
			go p.loop(ep)
		}
		lightPollersV = p
	})
	return lightPollersV
}

func (p *pollers) add(c *lightConn) error {
	if p == nil {
		return fmt.Errorf("epoll: %w", lightPollersErr)
	}
	p.mu.Lock()
	ep := p.eps[p.next%len(p.eps)]
	p.next++
	p.mu.Unlock()
	p.fds.Store(int32(c.fd), c)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(c.fd)}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		p.fds.Delete(int32(c.fd))
		return fmt.Errorf("epoll: %w", err)
	}
	return nil
}

// remove forgets c; its fd is closed right after, which takes it out of the epoll set.
func (p *pollers) remove(c *lightConn) {
	if p != nil {
		p.fds.CompareAndDelete(int32(c.fd), c)
	}
}

func (p *pollers) loop(ep int) {
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 256<<10)
	for {
		n, err := syscall.EpollWait(ep, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			panic(fmt.Sprintf("imload: epoll_wait: %v", err))
		}
		for _, ev := range events[:n] {
			v, ok := p.fds.Load(ev.Fd)
			if !ok {
				continue
			}
			p.read(v.(*lightConn), buf)
		}
	}
}

// read reads what c's socket holds (once; level-triggered epoll reports the rest) and consumes it.
func (p *pollers) read(c *lightConn, buf []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	k := copy(buf, c.carry)
	if k == len(buf) { // a frame larger than the buffer: grow it for this connection
		buf = make([]byte, 2*len(c.carry))
		k = copy(buf, c.carry)
	}
	n, err := syscall.Read(c.fd, buf[k:])
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR:
		c.mu.Unlock()
		return
	case err != nil:
		c.finishLocked(err)
		c.mu.Unlock()
		return
	case n == 0:
		c.finishLocked(io.EOF)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.consume(buf[:k+n], time.Now()) // after the read: a push is never stamped before it arrived
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

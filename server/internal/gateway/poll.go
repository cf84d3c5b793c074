package gateway

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// An idle connection has no reader goroutine: once the reader has read everything the client sent up to a
// message boundary, it hands the socket to the Hub's poller (an epoll instance on Linux) and exits; the
// poller starts a fresh reader when the socket is readable again (a frame, a ping, the pong to the server's
// ping, a close frame, EOF or an error). See doc.go, "Goroutines".
//
// pollConn is the hijacked socket as coder/websocket sees it (its bufio.Reader's source and the conn it
// closes). Its Read, asked for bytes at a message boundary, waits at most parkAfter and reports errParked
// when nothing came; coder/websocket passes that error up from Read untouched (its read state is between
// frames then, so the next Read starts cleanly). Anywhere else Read waits as usual, so a reader never parks
// holding part of a frame.

// errParked is what pollConn.Read returns at a message boundary when the socket has nothing to read.
var errParked = errors.New("gateway: connection parked")

// pollConn states; only the goroutine that moves a connection from parked to reading may read it.
const (
	reading uint32 = iota
	parked
)

type pollConn struct {
	net.Conn
	rc syscall.RawConn
	c  *conn
	id uint64 // the poller's key for this connection (never reused, unlike the fd)

	// parkable is set once the socket is in the poller; cleared when arming it failed (read on, blocking).
	parkable   atomic.Bool
	registered atomic.Bool // in the poller's epoll set and map
	state      atomic.Uint32

	// Touched only inside Read, which coder/websocket calls under its read lock.
	scan frameScanner // follows the frames coder/websocket has read
	buf  *[]byte      // bytes read ahead, buf[r:w]; nil when there are none
	r, w int
}

// Read reads from the socket for coder/websocket's bufio.Reader. coder/websocket reads through that buffer
// only with ReadByte, Read and io.ReadFull, which call Read only when the buffer is empty: so every byte Read
// returned before has been consumed, and scan knows whether the reader is at a message boundary.
//
// The bufio.Reader is tiny (16 B); the bytes read ahead wait in buf, borrowed from the Hub's pool while it
// holds some, so an idle connection keeps no read buffer.
func (p *pollConn) Read(b []byte) (int, error) {
	if p.buf == nil {
		size := p.c.hub.opts.ReadBufferSize
		if len(b) >= size {
			n, err := p.readSocket(b)
			p.scan.feed(b[:n])
			return n, err
		}
		p.buf = p.c.hub.readPool.Get().(*[]byte)
		n, err := p.readSocket((*p.buf)[:size])
		if n == 0 {
			p.c.hub.readPool.Put(p.buf)
			p.buf = nil
			return 0, err
		}
		p.r, p.w = 0, n // a TCP read that returned bytes returned no error; the next one reports it
	}
	n := copy(b, (*p.buf)[p.r:p.w])
	p.r += n
	if p.r == p.w {
		p.c.hub.readPool.Put(p.buf)
		p.buf = nil
	}
	p.scan.feed(b[:n])
	return n, nil
}

// parkAfter is how long a reader at a message boundary waits for the next frame before it parks. Parking
// costs an epoll_ctl, and waking a fresh goroutine that grows its stack again: a connection in use (a
// client sending every few hundred milliseconds) keeps its reader, one idle for parkAfter gives it up.
const parkAfter = time.Second

// readSocket reads from the socket. At a message boundary it waits at most parkAfter after a data frame,
// not at all after a control frame (errParked: nothing came); inside a frame it waits as long as it takes
// (IdleTimeout bounds that).
func (p *pollConn) readSocket(b []byte) (int, error) {
	if !p.scan.idle() || !p.parkable.Load() || p.c.ctx.Err() != nil {
		return p.Conn.Read(b)
	}
	if p.scan.ctrl { // after a pong or a ping the client is idle: park at once if nothing else came
		n, err := readNow(p.rc, b)
		if n == 0 && err == nil {
			return 0, errParked
		}
		return n, err
	}
	_ = p.Conn.SetReadDeadline(time.Now().Add(parkAfter))
	n, err := p.Conn.Read(b)
	_ = p.Conn.SetReadDeadline(time.Time{})
	if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, errParked
	}
	return n, err
}

// Close takes the socket out of the poller before closing it (so a later socket with the same fd number
// cannot be confused with it), then wakes the connection if it is parked: its reader sees the closed socket
// and takes the connection out of the registry, whoever closed it.
func (p *pollConn) Close() error {
	if p.registered.Swap(false) {
		p.c.hub.poll.remove(p)
	}
	err := p.Conn.Close()
	p.c.wake()
	return err
}

// park hands c to the Hub's poller after its reader saw errParked. It reports whether the calling reader
// goroutine must exit; false means it keeps reading (the poller failed, or the connection started closing
// and nobody woke it yet).
func (c *conn) park() bool {
	p := c.pc
	p.state.Store(parked) // before arming: an event may start a reader at once
	if !c.hub.poll.arm(p) {
		p.parkable.Store(false)
		return !p.state.CompareAndSwap(parked, reading)
	}
	// A closing connection is read until its socket closes: closeWS cancels ctx before the handshake.
	if c.ctx.Err() != nil {
		return !p.state.CompareAndSwap(parked, reading)
	}
	return true
}

// wake starts a reader for c when it is parked; when several goroutines wake it, one does.
func (c *conn) wake() {
	if p := c.pc; p != nil && p.state.CompareAndSwap(parked, reading) {
		go c.readLoop()
	}
}

// frameScanner follows the WebSocket framing of the bytes a connection has read, to tell when the stream
// is between messages: no frame begun, no fragmented message open. It trusts lengths as coder/websocket
// does; a stream coder/websocket refuses closes the connection anyway.
type frameScanner struct {
	need  uint64   // payload bytes of the current frame not yet seen
	hdr   [14]byte // a header split across reads
	hn    uint8
	inMsg bool // the last data frame had no FIN: its continuation is due
	ctrl  bool // the last frame was a control frame (ping, pong, close)
}

func (s *frameScanner) idle() bool { return s.need == 0 && s.hn == 0 && !s.inMsg }

func (s *frameScanner) feed(b []byte) {
	for len(b) > 0 {
		if s.need > 0 {
			k := min(uint64(len(b)), s.need)
			s.need -= k
			b = b[k:]
			continue
		}
		s.hdr[s.hn] = b[0]
		s.hn++
		b = b[1:]
		if s.hn < 2 {
			continue
		}
		want := uint8(2)
		switch s.hdr[1] & 0x7f {
		case 126:
			want += 2
		case 127:
			want += 8
		}
		if s.hdr[1]&0x80 != 0 {
			want += 4 // masking key
		}
		if s.hn < want {
			continue
		}
		var length uint64
		switch l := s.hdr[1] & 0x7f; l {
		case 126:
			length = uint64(binary.BigEndian.Uint16(s.hdr[2:4]))
		case 127:
			length = binary.BigEndian.Uint64(s.hdr[2:10])
		default:
			length = uint64(l)
		}
		op := s.hdr[0] & 0x0f
		if s.ctrl = op >= 8; !s.ctrl { // data or continuation; control frames may come between fragments
			s.inMsg = s.hdr[0]&0x80 == 0
		}
		s.need, s.hn = length, 0
	}
}

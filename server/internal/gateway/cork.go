package gateway

import (
	"encoding/binary"
	"net"
	"os"
	"sync"
	"time"
)

// corkConn sits between coder/websocket's bufio.Writer and the socket. The connection's writer puts its
// data frames on the socket itself, already framed (wsFrame: a push is framed once for all its recipients),
// up to 64 of them in one write(2), with none of coder/websocket's per-frame work (its write lock, a context
// and timer per frame, copying through its 128-byte buffer). coder/websocket still writes the control
// frames (pong, ping, close) and the refusals before registration through Write.
//
// The two writers must not interleave inside a frame. Every byte coder/websocket writes goes through Write,
// under mu, and Write follows its frames' headers (track), so corkConn knows whether coder/websocket is
// between two frames; writeFrames writes only then, under mu. In practice its control frames (at most 127
// bytes) reach Write whole, being flushed from an empty 128-byte buffer; a frame cut in pieces would only
// make writeFrames wait for the rest. Once coder/websocket has written a close frame no data frame follows.
type corkConn struct {
	net.Conn

	mu        sync.Mutex
	hdr       [14]byte // the header of coder/websocket's current frame, while incomplete
	hdrN      int      // bytes of it seen
	need      int64    // payload bytes of coder/websocket's current frame still to come
	closeSent bool     // coder/websocket wrote a close frame
}

const (
	corkMaxFrames = 64       // frames per write(2)
	corkMaxBytes  = 64 << 10 // stop taking frames into a batch past this many bytes
)

// Write is coder/websocket's way to the socket.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.track(p)
	return c.Conn.Write(p)
}

// track follows the frames in p, the next bytes coder/websocket writes.
func (c *corkConn) track(p []byte) {
	for len(p) > 0 {
		if c.need > 0 {
			n := min(int64(len(p)), c.need)
			c.need -= n
			p = p[n:]
			continue
		}
		c.hdr[c.hdrN] = p[0]
		c.hdrN++
		p = p[1:]
		if c.hdrN < 2 {
			continue
		}
		size := 2
		switch c.hdr[1] & 0x7f {
		case 126:
			size += 2
		case 127:
			size += 8
		}
		if c.hdr[1]&0x80 != 0 { // masked: only a client's frames are, but the count must stay right
			size += 4
		}
		if c.hdrN < size {
			continue
		}
		n := int64(c.hdr[1] & 0x7f)
		switch n {
		case 126:
			n = int64(binary.BigEndian.Uint16(c.hdr[2:4]))
		case 127:
			n = int64(binary.BigEndian.Uint64(c.hdr[2:10]) & (1<<63 - 1))
		}
		if c.hdr[0]&0x0f == 0x8 {
			c.closeSent = true
		}
		c.hdrN, c.need = 0, n
	}
}

// writeFrames writes complete WebSocket frames in one write(2), between two of coder/websocket's frames,
// within timeout. It may reslice frames' elements (writev consumes them). After an error the connection is
// unusable and must be dropped.
func (c *corkConn) writeFrames(frames [][]byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c.mu.Lock()
	for c.hdrN != 0 || c.need != 0 {
		// coder/websocket is inside a frame: it holds its write lock and writes the rest without waiting for
		// anything of ours, or fails and the connection ends.
		c.mu.Unlock()
		if time.Now().After(deadline) {
			return os.ErrDeadlineExceeded
		}
		time.Sleep(100 * time.Microsecond)
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	// Usually the socket has room: one non-blocking writev, no deadline to set and clear.
	bufs := net.Buffers(frames)
	bufs, err := c.tryWrite(bufs)
	if err != nil || len(bufs) == 0 {
		return err
	}
	if err := c.Conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err = bufs.WriteTo(c.Conn)
	if err == nil {
		err = c.Conn.SetWriteDeadline(time.Time{})
	}
	return err
}

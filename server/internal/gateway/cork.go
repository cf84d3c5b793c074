package gateway

import (
	"net"
	"sync"
	"time"
)

// corkConn sits between coder/websocket's bufio.Writer and the socket. coder/websocket flushes after every
// frame, so a burst of pushes to one connection would cost one write(2) each; while corked, corkConn
// collects those flushes and uncork hands them to the kernel in one write. Under fan-out load that syscall
// per frame is most of the gateway's CPU.
//
// Only the connection's writer corks, and only around a batch of queued frames; coder/websocket's own
// control frames (pong, close) written meanwhile wait in the same buffer for the uncork that follows at once.
type corkConn struct {
	net.Conn

	mu     sync.Mutex
	corked bool
	buf    *[]byte // from corkPool while corked; nil otherwise, so an idle connection holds no buffer
}

const (
	corkMaxFrames = 64       // frames per write(2)
	corkMaxBytes  = 64 << 10 // stop taking frames into a batch past this many bytes
	corkPoolCap   = 256 << 10
)

var corkPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		*c.buf = append(*c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.buf = corkPool.Get().(*[]byte)
	c.mu.Unlock()
}

// uncork writes what was collected, giving up after timeout (the caller then drops the connection). A
// timeout <= 0 discards it: the connection is being dropped.
func (c *corkConn) uncork(timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return nil
	}
	c.corked = false
	b := c.buf
	c.buf = nil
	defer func() {
		if cap(*b) <= corkPoolCap {
			*b = (*b)[:0]
			corkPool.Put(b)
		}
	}()
	if len(*b) == 0 || timeout <= 0 {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	_, err := c.Conn.Write(*b)
	if err == nil {
		err = c.Conn.SetWriteDeadline(time.Time{})
	}
	return err
}

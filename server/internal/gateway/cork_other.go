//go:build !unix

package gateway

import "net"

// tryWrite writes nothing where writev is not at hand: writeFrames then writes with its deadline.
func (c *corkConn) tryWrite(bufs net.Buffers) (net.Buffers, error) { return bufs, nil }

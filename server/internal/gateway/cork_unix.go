//go:build unix

package gateway

import (
	"net"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// tryWrite writes what of bufs the socket takes now, without waiting, and returns the rest. The caller
// holds mu.
func (c *corkConn) tryWrite(bufs net.Buffers) (net.Buffers, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return bufs, nil
	}
	rc, err := sc.SyscallConn() // not kept: an idle connection would carry it
	if err != nil {
		return bufs, nil
	}
	iov := make([]syscall.Iovec, 0, len(bufs))
	for _, b := range bufs {
		if len(b) > 0 {
			v := syscall.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			iov = append(iov, v)
		}
	}
	if len(iov) == 0 {
		return nil, nil
	}
	var n uintptr
	var errno syscall.Errno
	if err := rc.Write(func(fd uintptr) bool {
		n, _, errno = syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		return true // never wait here: the caller waits, with its deadline
	}); err != nil {
		return nil, err
	}
	runtime.KeepAlive(bufs)
	switch {
	case errno == syscall.EAGAIN || errno == syscall.EINTR:
		return bufs, nil
	case errno != 0:
		return nil, &net.OpError{Op: "writev", Net: "tcp", Err: os.NewSyscallError("writev", errno)}
	}
	k := int(n)
	for len(bufs) > 0 && k >= len(bufs[0]) {
		k -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) > 0 {
		bufs[0] = bufs[0][k:]
	}
	return bufs, nil
}

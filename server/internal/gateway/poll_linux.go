package gateway

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// poller is the Hub's epoll instance for parked connections. Each parked socket is in it with EPOLLONESHOT
// (level-triggered): the first readiness disarms it and starts the connection's reader, and the next park
// rearms it; bytes that arrived between a reader's last read and the rearm make it ready at once. The epoll
// fd itself sits in Go's netpoller, so waiting on it takes no thread, and closing it ends run.
type poller struct {
	f     *os.File
	rc    syscall.RawConn
	seq   atomic.Uint64
	mu    sync.Mutex
	conns map[uint64]*pollConn // by pollConn.id: an event names its connection by id, never by fd
	done  chan struct{}
}

func newPoller() (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil { // makes os.NewFile put it in the netpoller
		_ = syscall.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(fd), "gateway-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	p := &poller{f: f, rc: rc, conns: make(map[uint64]*pollConn), done: make(chan struct{})}
	go p.run()
	return p, nil
}

// run wakes the connections whose sockets became ready, until the poller is closed.
func (p *poller) run() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	var ready []*pollConn
	for {
		n := 0
		err := p.rc.Read(func(fd uintptr) bool {
			for {
				k, err := syscall.EpollWait(int(fd), events, 0)
				if err == syscall.EINTR {
					continue
				}
				n = max(k, 0)
				return n > 0
			}
		})
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		for _, ev := range events[:n] {
			if pc := p.conns[uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32]; pc != nil {
				ready = append(ready, pc)
			}
		}
		p.mu.Unlock()
		for i, pc := range ready {
			pc.c.wake()
			ready[i] = nil
		}
		ready = ready[:0]
	}
}

// close stops the poller; parking fails from then on and connections keep their readers.
func (p *poller) close() {
	if p == nil {
		return
	}
	_ = p.f.Close()
	<-p.done
}

// track gives pc its id and makes events for it find it, until untrack.
func (p *poller) track(pc *pollConn) bool {
	if p == nil {
		return false
	}
	pc.id = p.seq.Add(1)
	p.mu.Lock()
	p.conns[pc.id] = pc
	p.mu.Unlock()
	pc.parkable.Store(true)
	return true
}

func (p *poller) untrack(pc *pollConn) {
	if p == nil || pc.id == 0 {
		return
	}
	p.mu.Lock()
	delete(p.conns, pc.id)
	p.mu.Unlock()
}

// arm (re)registers pc's socket for one readiness event. It fails when the socket or the poller is closed.
func (p *poller) arm(pc *pollConn) bool {
	if p == nil {
		return false
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd: int32(uint32(pc.id)), Pad: int32(uint32(pc.id >> 32))}
	var errno error
	err := p.rc.Control(func(epfd uintptr) {
		err := pc.rc.Control(func(fd uintptr) { // holds the socket's fd open while epoll_ctl uses its number
			op := syscall.EPOLL_CTL_MOD
			if !pc.registered.Load() {
				op = syscall.EPOLL_CTL_ADD
			}
			errno = syscall.EpollCtl(int(epfd), op, int(fd), &ev)
			switch errno { // the hint was stale: a concurrent park or a close got there first
			case syscall.ENOENT:
				errno = syscall.EpollCtl(int(epfd), syscall.EPOLL_CTL_ADD, int(fd), &ev)
			case syscall.EEXIST:
				errno = syscall.EpollCtl(int(epfd), syscall.EPOLL_CTL_MOD, int(fd), &ev)
			}
			if errno == nil {
				pc.registered.Store(true)
			}
		})
		if err != nil {
			errno = err
		}
	})
	return err == nil && errno == nil
}

// remove takes pc's socket out of the epoll set (before it is closed).
func (p *poller) remove(pc *pollConn) {
	_ = p.rc.Control(func(epfd uintptr) {
		_ = pc.rc.Control(func(fd uintptr) {
			_ = syscall.EpollCtl(int(epfd), syscall.EPOLL_CTL_DEL, int(fd), nil)
		})
	})
}

// readNow reads what the socket holds without waiting: (0, nil) when it holds nothing.
func readNow(rc syscall.RawConn, b []byte) (int, error) {
	var n int
	var errno error
	if err := rc.Read(func(fd uintptr) bool {
		n, errno = syscall.Read(int(fd), b)
		return true
	}); err != nil {
		return 0, err
	}
	switch {
	case errno == syscall.EAGAIN || errno == syscall.EINTR:
		return 0, nil
	case errno != nil:
		return 0, os.NewSyscallError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

package runner

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/imspec/imserver/conformance"
)

// tnode is the runner's conformance.TestLike: a test or subtest with go test's semantics (Parallel pauses a
// subtest until its parent's body returns and then runs it under the --parallel limit; a parent ends after its
// subtests; Fatalf and Skipf end the test's goroutine; Cleanup runs after the subtests, last first).
type tnode struct {
	r      *run
	name   string // full name relative to the root, "" for the root
	parent *tnode
	ctx    context.Context
	cancel context.CancelFunc

	mu          sync.Mutex
	failed      bool
	failure     string // the first Errorf/Fatalf message
	skipped     bool
	logs        []string
	cleanups    []func()
	hasChildren bool
	parallel    bool
	start       time.Time

	children   sync.WaitGroup
	signalOnce sync.Once
	signal     chan struct{} // closed when Run may return (Parallel was called, or the test ended)
	release    chan struct{} // closed when the body returned: parallel subtests may start
	done       chan struct{}
}

var _ conformance.TestLike = (*tnode)(nil)

func newNode(r *run, name string, parent *tnode, ctx context.Context) *tnode {
	ctx, cancel := context.WithCancel(ctx)
	return &tnode{r: r, name: name, parent: parent, ctx: ctx, cancel: cancel, start: time.Now(),
		signal: make(chan struct{}), release: make(chan struct{}), done: make(chan struct{})}
}

func (t *tnode) Helper()                  {}
func (t *tnode) Name() string             { return t.name }
func (t *tnode) Context() context.Context { return t.ctx }

func (t *tnode) log(s string) {
	t.mu.Lock()
	t.logs = append(t.logs, strings.TrimRight(s, "\n"))
	t.mu.Unlock()
}

func (t *tnode) Logf(format string, args ...any) { t.log(fmt.Sprintf(format, args...)) }

func (t *tnode) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.log(msg)
	t.mu.Lock()
	if t.failure == "" {
		t.failure = msg
	}
	t.mu.Unlock()
	t.fail()
}

func (t *tnode) fail() {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	if t.parent != nil {
		t.parent.fail()
	}
}

func (t *tnode) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	runtime.Goexit()
}

func (t *tnode) Skipf(format string, args ...any) {
	t.log(fmt.Sprintf(format, args...))
	t.mu.Lock()
	t.skipped = true
	t.mu.Unlock()
	runtime.Goexit()
}

func (t *tnode) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *tnode) Cleanup(f func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}

func (t *tnode) Parallel() {
	t.mu.Lock()
	if t.parallel {
		t.mu.Unlock()
		return
	}
	t.parallel = true
	t.mu.Unlock()
	t.signalOnce.Do(func() { close(t.signal) })
	if t.parent != nil {
		<-t.parent.release
	}
	select {
	case t.r.sem <- struct{}{}:
	case <-t.ctx.Done():
		t.r.sem <- struct{}{} // still take a slot: the body runs and sees its context ended
	}
	t.mu.Lock()
	t.start = time.Now()
	t.mu.Unlock()
}

func (t *tnode) Run(name string, f func(conformance.TestLike)) bool {
	full := name
	if t.name != "" {
		full = t.name + "/" + name
	}
	if !t.r.selected(full) {
		return true
	}
	c := newNode(t.r, full, t, t.ctx)
	t.mu.Lock()
	t.hasChildren = true
	t.mu.Unlock()
	t.children.Add(1)
	t.r.started(c)
	go c.exec(f)
	<-c.signal
	return !c.Failed()
}

// exec runs the body, then (whatever way it ended) lets the parallel subtests run, waits for them, runs the
// cleanups and reports.
func (t *tnode) exec(f func(conformance.TestLike)) {
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("panic: %v\n%s", p, debug.Stack())
		}
		close(t.release)
		t.mu.Lock()
		par := t.parallel
		t.mu.Unlock()
		if par {
			<-t.r.sem
		}
		t.children.Wait()
		t.cancel()
		t.mu.Lock()
		cl := t.cleanups
		t.cleanups = nil
		t.mu.Unlock()
		for i := len(cl) - 1; i >= 0; i-- {
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("panic in cleanup: %v", p)
					}
				}()
				cl[i]()
			}()
		}
		t.r.finished(t)
		close(t.done)
		t.signalOnce.Do(func() { close(t.signal) })
		if t.parent != nil {
			t.parent.children.Done()
		}
	}()
	f(t)
}

package gateway

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkIdleConnMemory prints the memory (heap in use + goroutine stacks) that idle connections cost
// the process, per connection. The clients are bare TCP sockets that did the handshake by hand, so
// almost all of the figure is the server side. Set the number with -benchtime=Nx (default 1000).
func BenchmarkIdleConnMemory(b *testing.B) {
	n := b.N
	if n < 100 {
		n = 1000
	}
	h, err := New(Options{Checker: fakeAuth{}, Backend: BackendFunc(echoBackend), IdleTimeout: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.Close(ctx)
	}()
	addr := strings.TrimPrefix(srv.URL, "http://")

	before := memInUse()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatalf("dial %d: %v (raise ulimit -n or lower -benchtime)", i, err)
		}
		conns = append(conns, c)
		u := fmt.Sprintf("idle%d", i)
		fmt.Fprintf(c, "GET %s?token=%s&userID=%s&platformID=1 HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", Path, tok(u, 1), u, addr)
		resp, err := http.ReadResponse(bufio.NewReaderSize(c, 256), nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			b.Fatalf("handshake %d: %v %v", i, resp, err)
		}
	}
	for h.Count() < n {
		time.Sleep(10 * time.Millisecond)
	}
	after := memInUse()
	b.ReportMetric((float64(after.heap+after.stack)-float64(before.heap+before.stack))/float64(n), "B/conn")
	b.ReportMetric((float64(after.stack)-float64(before.stack))/float64(n), "stackB/conn")
	b.ReportMetric(float64(runtime.NumGoroutine())/float64(n), "goroutines/conn")
}

type memFigures struct{ heap, stack uint64 }

func memInUse() memFigures {
	var m runtime.MemStats
	for range 3 {
		runtime.GC() // also shrinks the stacks of goroutines that grew them once
	}
	runtime.ReadMemStats(&m)
	return memFigures{heap: m.HeapInuse, stack: m.StackInuse}
}

// BenchmarkRequestReply is a closed loop of 1001 requests on 50 connections (clients in this process), with
// idle reads parked in the poller (the default) and with a reader goroutine per connection: what parking
// and waking costs per frame. cpu-ns/op is the process's CPU time (clients included) per request.
func BenchmarkRequestReply(b *testing.B) {
	for _, mode := range []struct {
		name    string
		perConn bool
	}{{"parked", false}, {"reader-per-conn", true}} {
		b.Run(mode.name, func(b *testing.B) {
			h, err := New(Options{Checker: fakeAuth{}, Backend: BackendFunc(echoBackend), ReaderPerConn: mode.perConn})
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_ = h.Close(ctx)
			}()
			const conns = 50
			ctx := context.Background()
			clients := make([]*websocket.Conn, conns)
			for i := range clients {
				u := fmt.Sprintf("rr%d", i)
				ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+Path+"?token="+tok(u, 1)+"&userID="+u+"&platformID=1", nil)
				if err != nil {
					b.Fatal(err)
				}
				defer ws.CloseNow()
				clients[i] = ws
			}
			req := func(u string) []byte {
				return []byte(`{"reqIdentifier":1001,"sendID":"` + u + `","operationID":"op","msgIncr":"1","data":"x"}`)
			}
			var next atomic.Int64
			cpu0 := cpuTime()
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, ws := range clients {
				u := fmt.Sprintf("rr%d", i)
				frame := req(u)
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if err := ws.Write(ctx, websocket.MessageText, frame); err != nil {
							b.Error(err)
							return
						}
						if _, _, err := ws.Read(ctx); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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
	"testing"
	"time"
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

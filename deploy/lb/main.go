// Command lb is the load balancer of deploy/compose.yaml: a small HTTP reverse proxy, WebSocket included
// (net/http/httputil forwards the Upgrade and then copies both directions), that spreads requests and
// connections round robin over every imserver node that answers /readyz.
//
// Backends are host:port names resolved again every -refresh, each address a backend: a compose service
// scaled to N replicas (docker compose up --scale imserver=N) resolves to N addresses, so scaling needs no
// change here. No stickiness is needed: a REST call carries its token, and a WebSocket connection is one
// long request that stays on the node it opened on. A production deployment uses its own load balancer
// (haproxy, nginx, a cloud one) with the same three properties: WebSocket upgrade, an idle timeout above
// the gateway's 30 s heartbeat, and health checks on /readyz (deploy/README.md).
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", ":10002", "listen address")
	backends := flag.String("backends", "imserver:10002", "comma-separated host:port of the nodes; every address a name resolves to is a backend")
	refresh := flag.Duration("refresh", 2*time.Second, "how often names are resolved and /readyz is checked")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := &pool{names: strings.Split(*backends, ","), log: log, hc: &http.Client{Timeout: *refresh}}
	p.check(ctx)
	go func() {
		t := time.NewTicker(*refresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.check(ctx)
			}
		}
	}()

	srv := &http.Server{Addr: *listen, ReadHeaderTimeout: 10 * time.Second, Handler: p.handler()}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // hijacked WebSocket connections end when the process does
	}()
	log.Info("lb listening", "addr", *listen, "backends", *backends)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("lb", "err", err)
		os.Exit(1)
	}
}

// handler proxies each request, WebSocket upgrades included, to the next ready backend.
func (p *pool) handler() http.Handler {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", backendOf(r.In.Context())
			r.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			b := backendOf(r.Context())
			p.down(b) // until the next check finds it ready again
			p.log.Warn("backend failed", "backend", b, "err", err)
			http.Error(w, "backend unavailable", http.StatusBadGateway)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := p.next()
		if !ok {
			http.Error(w, "no imserver node is ready", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, b)))
	})
}

type backendKey struct{}

func backendOf(ctx context.Context) string { s, _ := ctx.Value(backendKey{}).(string); return s }

// pool is the set of ready backends; next picks them round robin.
type pool struct {
	names []string
	log   *slog.Logger
	hc    *http.Client

	mu    sync.Mutex
	ready []string
	i     atomic.Uint64
}

func (p *pool) next() (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ready) == 0 {
		return "", false
	}
	return p.ready[int(p.i.Add(1)%uint64(len(p.ready)))], true
}

func (p *pool) down(b string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, r := range p.ready {
		if r == b {
			p.ready = append(p.ready[:i:i], p.ready[i+1:]...)
			return
		}
	}
}

// check resolves every name and keeps the addresses whose /readyz answers 200.
func (p *pool) check(ctx context.Context) {
	var addrs []string
	for _, n := range p.names {
		host, port, err := net.SplitHostPort(strings.TrimSpace(n))
		if err != nil {
			p.log.Error("bad backend", "backend", n, "err", err)
			continue
		}
		ips, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			continue // not started yet, or scaled to zero
		}
		for _, ip := range ips {
			addrs = append(addrs, net.JoinHostPort(ip, port))
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ready := make([]string, 0, len(addrs))
	for _, a := range addrs {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a+"/readyz", nil)
			if err != nil {
				return
			}
			res, err := p.hc.Do(req)
			if err != nil {
				return
			}
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				mu.Lock()
				ready = append(ready, a)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	p.mu.Lock()
	changed := strings.Join(slices.Sorted(slices.Values(ready)), ",") != strings.Join(slices.Sorted(slices.Values(p.ready)), ",")
	p.ready = ready
	p.mu.Unlock()
	if changed {
		p.log.Info("ready backends", "backends", strings.Join(slices.Sorted(slices.Values(ready)), ","))
	}
}

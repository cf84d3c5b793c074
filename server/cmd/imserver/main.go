// Command imserver is the OpenIM-compatible IM server: REST under /api/v3, WebSocket at /msg_gateway.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/imspec/imserver/server"
	"github.com/imspec/imserver/server/internal/config"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "imserver:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg, err := config.FromEnv(args)
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	log.Info("configuration", "settings", cfg.Lines())
	switch {
	case cfg.UsingDevSecret() && cfg.AllowDevSecret:
		log.Warn("!!! RUNNING WITH THE DOCUMENTED DEV SECRET, ACCEPTED FROM EVERY PEER (--allow-dev-secret): anyone who can reach this server can register users and mint tokens. Set --secret or IMSERVER_SECRET. !!!")
	case cfg.UsingDevSecret():
		log.Warn("running with the documented dev secret: user_register and user_token accept it from loopback peers only; set --secret or IMSERVER_SECRET (16+ characters) to serve other hosts")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Listen first: a taken port fails before an embedded PostgreSQL is started for nothing.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if cfg.DebugAddr != "" {
		dln, err := net.Listen("tcp", cfg.DebugAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (--debug-addr): %w", cfg.DebugAddr, err)
		}
		defer dln.Close()
		go func() { _ = http.Serve(dln, debugMux()) }()
		log.Info("pprof profiles served (unauthenticated)", "addr", dln.Addr().String(), "path", "/debug/pprof/")
	}
	var mln net.Listener
	if cfg.MetricsAddr != "" {
		if mln, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (--metrics-addr): %w", cfg.MetricsAddr, err)
		}
		defer mln.Close()
	}
	s, err := server.New(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	if mln != nil {
		m := http.NewServeMux()
		m.Handle("/metrics", s.Metrics())
		go func() { _ = (&http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}).Serve(mln) }()
		log.Info("metrics served (unauthenticated)", "addr", mln.Addr().String(), "path", "/metrics")
	}
	return s.Serve(ctx, ln)
}

// debugMux is net/http/pprof on a mux of its own, never on the API's port.
func debugMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return m
}

func newLogger(cfg *config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// Package server assembles the IM server: storage (an existing PostgreSQL or an embedded one), the REST API,
// the WebSocket gateway, health and metrics, all on one port.
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/imspec/imserver/asyncapi"
	"github.com/imspec/imserver/gen/db"
	"github.com/imspec/imserver/internal/pgembed"
	"github.com/imspec/imserver/openapi"
	"github.com/imspec/imserver/queries"
	"github.com/imspec/imserver/server/internal/auth"
	"github.com/imspec/imserver/server/internal/bus"
	"github.com/imspec/imserver/server/internal/chat"
	"github.com/imspec/imserver/server/internal/config"
	"github.com/imspec/imserver/server/internal/friends"
	"github.com/imspec/imserver/server/internal/gateway"
	"github.com/imspec/imserver/server/internal/groups"
	"github.com/imspec/imserver/server/internal/guard"
	"github.com/imspec/imserver/server/internal/httpapi"
	"github.com/imspec/imserver/server/internal/presence"
	"github.com/imspec/imserver/server/internal/users"
	"github.com/imspec/imserver/web"
)

// Server is one imserver process.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	pool     *pgxpool.Pool
	embedded *pgembed.Cluster
	handler  http.Handler
	metrics  http.Handler
	ready    chan struct{}
	chat     *chat.Service
	hub      *gateway.Hub
	presence *presence.Presence
	bus      bus.Bus

	probeMu  sync.Mutex // one write probe at a time; its result serves /readyz for probeFresh
	probeAt  time.Time
	probeErr error
}

// New opens storage (starting the embedded PostgreSQL when no database URL is configured), applies the
// migrations and builds the HTTP handler.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *Server, err error) {
	s := &Server{cfg: cfg, log: log, ready: make(chan struct{})}
	defer func() {
		if err != nil {
			if s.presence != nil {
				_ = s.presence.Close(context.Background())
			}
			if s.bus != nil {
				s.bus.Close()
			}
			s.closeStorage()
		}
	}()
	dsn := cfg.DatabaseURL
	if dsn == "" {
		dir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		log.Info("no database URL configured: starting an embedded PostgreSQL", "dataDir", dir)
		// Restart: a PostgreSQL that dies (killed, crashed) is started again on the same port, and the pool
		// reconnects to it; /healthz says 503 meanwhile.
		s.embedded, err = pgembed.Start(ctx, pgembed.Options{DataDir: filepath.Join(dir, "postgres"), Restart: true,
			Logf: func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...)) }})
		if err != nil {
			return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		dsn = s.embedded.DSN("imserver")
	}
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	pcfg.MaxConns = int32(cfg.DBMaxConns)
	s.pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := queries.Migrate(ctx, s.pool); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if err := ensureAdmins(ctx, db.New(s.pool), cfg.AdminUserIDs); err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	signer := auth.NewSigner(cfg.Secret, cfg.TokenTTL, cfg.AdminUserIDs)
	checker := &auth.Checker{Signer: signer, Q: db.New(s.pool)}
	s.chat = chat.New(s.pool, log, chat.Options{WriteTimeout: cfg.DBWriteTimeout})
	grd := guard.New(guard.Options{
		RateLimitOff: cfg.RateLimitOff, Send: cfg.RateSend, Mutate: cfg.RateMutate, Secret: cfg.RateSecret,
		Exempt: cfg.RateExemptUserIDs, MaxUnauthenticated: cfg.MaxUnauthenticated,
		DevSecretLoopbackOnly: cfg.DevSecretLoopbackOnly(),
	})
	// The shared connection registry: every process's connections, for 1304 and get_users_online_status.
	// Each worker may hold a pool connection while it announces (which takes another), so they get at most
	// a quarter of the pool.
	var hubRef atomic.Pointer[gateway.Hub]
	attached := &attachTimes{}
	if s.bus, err = connectBus(cfg, log, nodeHandler{s.chat.BusHandler(), &hubRef, attached}, reg); err != nil {
		return nil, err
	}
	s.chat.SetBus(s.bus)
	s.presence, err = presence.Start(ctx, s.pool, s.chat, presence.Options{Log: log, Workers: min(presence.DefaultWorkers, max(1, cfg.DBMaxConns/4)), ProcessID: processID(cfg.NodeName)})
	if err != nil {
		return nil, fmt.Errorf("presence registry: %w", err)
	}
	s.hub, err = gateway.New(gateway.Options{
		Checker: checker, Backend: limitSends(grd, s.chat), Hooks: nodeHooks{s.presence, s.bus, attached}, Log: log, Registerer: reg,
		MaxFrameBytes: cfg.WSMaxFrameBytes, SendQueue: cfg.WSSendQueue,
		WriteTimeout: cfg.WSWriteTimeout, IdleTimeout: cfg.WSIdleTimeout,
	})
	if err != nil {
		return nil, err
	}
	s.chat.SetPusher(s.hub)
	hubRef.Store(s.hub)
	if n, ok := s.bus.(*bus.NATS); ok {
		if err := n.SetStatusSource(s.presence.ProcessID(), nodeStatus(s.hub)); err != nil {
			return nil, fmt.Errorf("bus: %w", err)
		}
	}
	deps := httpapi.Deps{
		Checker: checker, Log: log, MaxBody: cfg.MaxBodyBytes,
		Metrics: httpapi.NewMetrics(reg), Chat: s.chat, Guard: grd, Users: users.New(s.pool, s.chat, signer, cfg.Secret), Friends: friends.New(s.pool, s.chat),
		Groups:   groups.New(s.pool, s.chat, groups.Limits{MaxMembers: cfg.MaxGroupMembers, MaxGroupsPerUser: cfg.MaxGroupsPerUser}),
		Sessions: sessions{hub: s.hub, presence: s.presence, bus: s.bus}, Console: console{q: db.New(s.pool), settings: cfg.Lines()},
	}

	r := chi.NewRouter()
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	s.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if cfg.MetricsAddr == "" {
		r.Handle("/metrics", s.metrics)
	}
	r.Handle(gateway.Path, boundUpgrades(grd, s.hub))
	r.Get(httpapi.BasePath+"/openapi.yaml", serveSpec(openapi.Spec))
	r.Get("/asyncapi.yaml", serveSpec(asyncapi.Spec))
	if err := httpapi.Mount(r, deps, httpapi.NewHandlers(deps)); err != nil {
		return nil, err
	}
	// The chat app at /, the admin console at /admin/, the rendered specs at /docs/ (package web). The
	// development login lends the apps the secret's power, so it exists only with the development secret.
	if cfg.UsingDevSecret() {
		r.Method(http.MethodPost, web.DevLoginPath, web.DevLogin(r, httpapi.BasePath, cfg.Secret))
	}
	r.Handle("/*", web.Handler())
	s.handler = r
	return s, nil
}

// Handler is the server's whole HTTP surface.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics serves the Prometheus metrics; it is mounted at /metrics on Handler unless the configuration
// gives them an address of their own (the caller serves them there).
func (s *Server) Metrics() http.Handler { return s.metrics }

// Pool is the server's database pool (tests use it to inspect state).
func (s *Server) Pool() *pgxpool.Pool { return s.pool }

// Serve answers on ln until ctx is cancelled, then shuts down gracefully: stop accepting, finish in-flight
// requests (bounded by the shutdown timeout), close storage.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := newHTTPServer(s.handler, s.cfg)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	close(s.ready)
	s.log.Info("imserver listening", "addr", ln.Addr().String())
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		s.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		err = srv.Shutdown(sctx) // stop accepting; finish in-flight REST calls
		if cerr := s.hub.Close(sctx); cerr != nil && err == nil {
			err = cerr // close frames to every WebSocket, after their in-flight requests
		}
		cancel()
	}
	// Write the last disconnects, then take this process's connections out of the shared registry
	// (announcing "offline" where due) while the bus still reaches the other nodes.
	ptimeout := s.cfg.ShutdownTimeout
	if !s.storageUp() {
		ptimeout = min(ptimeout, time.Second) // nothing to write to: do not wait for it
	}
	pctx, pcancel := context.WithTimeout(context.Background(), ptimeout)
	if perr := s.presence.Close(pctx); perr != nil {
		s.log.Warn("presence: this process's connections stay in the registry until they expire", "err", perr)
	}
	pcancel()
	s.chat.Close() // flush queued message writes (their pushes still go out on the bus)
	s.bus.Close()
	s.closeStorage()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) closeStorage() {
	if s.pool != nil {
		s.pool.Close()
	}
	if s.embedded != nil {
		if err := s.embedded.Stop(); err != nil {
			s.log.Error("stop embedded PostgreSQL", "err", err)
		}
	}
}

// storageUp is false while the embedded PostgreSQL is down (dead or restarting).
func (s *Server) storageUp() bool { return s.embedded == nil || s.embedded.Running() }

// healthz is liveness: 200 while this process can serve or recover by itself. With the embedded
// PostgreSQL down (it is being restarted) it is 503: the server cannot serve then, whatever else works.
// An external database's outage shows in /readyz only: restarting imserver would not bring it back.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if !s.storageUp() {
		http.Error(w, "embedded PostgreSQL is down; restarting it", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// probeFresh is how long a successful write probe answers /readyz without another one, unless a message
// write failed since.
const probeFresh = time.Second

// readyz is readiness: 200 only when the database accepts writes, as a committed write probe shows (a
// database that answers pings can still refuse every write: disk full, read-only, stalled).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.ready:
	default:
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	if !s.storageUp() {
		http.Error(w, "embedded PostgreSQL is down; restarting it", http.StatusServiceUnavailable)
		return
	}
	if err := s.probeWrite(r.Context()); err != nil {
		http.Error(w, "the database does not accept writes (see the server log)", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (s *Server) probeWrite(ctx context.Context) error {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	failing := s.chat.WriteFailure() != nil
	if s.probeErr == nil && !s.probeAt.IsZero() && time.Since(s.probeAt) < probeFresh && !failing {
		return nil
	}
	// Not the caller's cancellation: a client hanging up is no verdict on the database.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	err := s.chat.ProbeWrite(ctx, failing || s.probeErr != nil) // after a failure, as deep as a message insert
	if err != nil && s.probeErr == nil {
		s.log.Warn("not ready: the database does not accept writes", "err", err)
	} else if err == nil && s.probeErr != nil {
		s.log.Info("ready again: the database accepts writes")
	}
	s.probeAt, s.probeErr = time.Now(), err
	return err
}

func serveSpec(b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(b)
	}
}

// ensureAdmins registers the configured admin users so they can obtain tokens.
func ensureAdmins(ctx context.Context, q *db.Queries, admins []string) error {
	if len(admins) == 0 {
		return nil
	}
	err := q.InsertAdminUsers(ctx, db.InsertAdminUsersParams{UserIds: admins, CreateTime: time.Now().UnixMilli()})
	if err != nil {
		return fmt.Errorf("register admin users %v: %w", admins, err)
	}
	return nil
}

// sessions adapts the gateway (this process) and the presence registry (every process) to what REST needs.
type sessions struct {
	hub      *gateway.Hub
	presence *presence.Presence
	bus      bus.Bus
}

// nodeStatus answers another node's question about this node's connections.
func nodeStatus(hub *gateway.Hub) bus.StatusSource {
	return func(userIDs []string) map[string][]bus.Conn {
		out := map[string][]bus.Conn{}
		for u, conns := range hub.OnlineStatus(userIDs) {
			for _, c := range conns {
				out[u] = append(out[u], bus.Conn{PlatformID: c.PlatformID, ConnID: c.ConnID, Background: c.IsBackground})
			}
		}
		return out
	}
}

// OnlineStatus reports the connections of every node, per user ordered by platform. This node's come from
// its gateway (current to the moment, with the background flag of 2004). The other nodes are asked over the
// bus, which answers the same way for each, at once; the shared registry (written a moment after each connect
// and disconnect, isBackground false) speaks for the nodes that do not answer within bus.StatusTimeout (one
// that died without stopping counts for up to 30 s) and for every node of a deployment without a bus.
func (s sessions) OnlineStatus(ctx context.Context, userIDs []string) (map[string][]httpapi.PlatformConn, error) {
	remote, err := s.presence.RemoteConns(ctx, userIDs)
	if err != nil {
		return nil, err
	}
	out := map[string][]httpapi.PlatformConn{}
	for u, conns := range s.hub.OnlineStatus(userIDs) {
		for _, c := range conns {
			out[u] = append(out[u], httpapi.PlatformConn{PlatformID: c.PlatformID, ConnID: c.ConnID, IsBackground: c.IsBackground})
		}
	}
	answered := map[string]map[string][]bus.Conn{}
	if n, ok := s.bus.(*bus.NATS); ok {
		others, err := s.presence.Others(ctx)
		if err != nil {
			return nil, err
		}
		expect := map[string]bool{}
		for _, o := range others {
			expect[o] = true
		}
		bctx, cancel := context.WithTimeout(ctx, bus.StatusTimeout)
		answered = n.Status(bctx, userIDs, expect)
		cancel()
	}
	for _, c := range remote {
		if _, ok := answered[c.ProcessID]; !ok {
			out[c.UserID] = append(out[c.UserID], httpapi.PlatformConn{PlatformID: c.PlatformID, ConnID: c.ConnID, IsBackground: c.IsBackground})
		}
	}
	for _, conns := range answered {
		for u, cs := range conns {
			for _, c := range cs {
				out[u] = append(out[u], httpapi.PlatformConn{PlatformID: c.PlatformID, ConnID: c.ConnID, IsBackground: c.Background})
			}
		}
	}
	for _, conns := range out {
		slices.SortStableFunc(conns, func(a, b httpapi.PlatformConn) int { return cmp.Compare(a.PlatformID, b.PlatformID) })
	}
	return out, nil
}

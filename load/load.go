// Package load is the load generator imload: it drives any implementation of the OpenIM-compatible API of
// this repository (openapi/openapi.yaml, asyncapi/asyncapi.yaml) over REST and WebSocket only, on this
// machine only, and prints what the server sustains.
//
// It registers its own users with the shared secret, gets their tokens, opens their gateway connections and
// runs scenarios, each bounded in time (--duration, at most an hour) and in messages (--max-msgs):
//
//	pairs   N sender/receiver pairs, WS 1003 from each sender to its receiver: acknowledged and delivered
//	        msgs/s, send-to-receive latency, lost messages (acknowledged but never pushed), and the newest
//	        seq of every pair's conversation checked against the number of acknowledged messages.
//	        --rate sends a fixed total rate (latency measured from the intended send time, so a server that
//	        falls behind shows it); otherwise each sender keeps --window sends in flight.
//	hot     S senders into one group (created by the admin with /group/create_group): msgs/s into one
//	        conversation; the whole seq range is pulled at the end and checked gap-free.
//	fanout  one sender into a group of M online members: deliveries/s, latency to every member and to
//	        the last member of each message.
//	idle    C idle connections held for --hold: server memory per connection (RSS from /metrics or
//	        /proc/<pid> with --server-pid) and the server CPU their heartbeats cost.
//	rest    /user/get_users_info and /msg/send_msg requests/s and latency with --rest-workers callers.
//
// Scenarios run one after another; each may override flags (pairs:rate=500,pairs=20). A progress line goes
// to stderr while a scenario runs, the table to stdout at the end, and --json writes every figure.
package load

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/imspec/imserver/client"
)

// Bounds that no flag can lift: every loop of imload ends.
const (
	MaxDuration = time.Hour
	MaxConns    = 200_000
	MaxMsgs     = 100_000_000
)

// Config is every setting of a run; scenario specs override a copy of it.
type Config struct {
	Target    string
	Secret    string
	Admin     string
	Platform  int
	Duration  time.Duration
	Drain     time.Duration
	Timeout   time.Duration
	Progress  time.Duration
	MaxMsgs   int
	Payload   int
	JSON      string
	ServerPID int
	Quiet     bool

	CPUProfile string // imload's own CPU profile (pprof), for finding what a receiver costs

	Pairs  int
	Window int
	Rate   float64

	Senders int
	HotVia  string

	Members int

	Conns           int
	Hold            time.Duration
	Heartbeat       time.Duration
	DialConcurrency int
	PerIP           int

	RestWorkers int
	FullDecode  bool

	Nodes      string // comma-separated host:port of several nodes (nodes.go)
	NodePIDs   string
	SharedPIDs string
}

func defaults() Config {
	return Config{
		Target: "127.0.0.1:10002", Secret: "openIM123", Admin: "imAdmin", Platform: 5,
		Duration: 10 * time.Second, Drain: 10 * time.Second, Timeout: 30 * time.Minute, Progress: 2 * time.Second,
		MaxMsgs: 5_000_000, Payload: 32,
		Pairs: 50, Window: 8,
		Senders: 20, HotVia: "ws",
		Members: 200,
		Conns:   1000, Hold: 25 * time.Second, DialConcurrency: 64, PerIP: 25_000,
		RestWorkers: 16,
	}
}

// flags binds c to a flag set; the same set parses the command line and each scenario's overrides.
func flags(c *Config, name string, output io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&c.Target, "target", c.Target, "the server: host:port, http://host:port or ws://host:port; loopback only (127.0.0.0/8, ::1, localhost)")
	fs.StringVar(&c.Secret, "secret", c.Secret, "the server's shared secret (/auth/user_register, /auth/user_token)")
	fs.StringVar(&c.Admin, "admin", c.Admin, "an admin user ID of the server (creates the groups of hot and fanout)")
	fs.IntVar(&c.Platform, "platform", c.Platform, "platformID of imload's connections and tokens")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long each scenario sends (at most 1h)")
	fs.DurationVar(&c.Drain, "drain", c.Drain, "after sending, how long to wait for pushes still on their way")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "bound on the whole run")
	fs.DurationVar(&c.Progress, "progress", c.Progress, "interval of the progress line on stderr (0: none)")
	fs.IntVar(&c.MaxMsgs, "max-msgs", c.MaxMsgs, "most messages (or requests) a scenario sends")
	fs.IntVar(&c.Payload, "payload", c.Payload, "bytes of text in each message")
	fs.StringVar(&c.JSON, "json", c.JSON, "also write the results as JSON to this file")
	fs.IntVar(&c.ServerPID, "server-pid", c.ServerPID, "the server's process ID on this machine: memory and CPU from /proc instead of /metrics")
	fs.BoolVar(&c.Quiet, "quiet", c.Quiet, "no progress lines")
	fs.StringVar(&c.CPUProfile, "cpu-profile", c.CPUProfile, "write imload's own CPU profile (pprof) over the whole run to this file")
	fs.IntVar(&c.Pairs, "pairs", c.Pairs, "pairs: sender/receiver pairs")
	fs.IntVar(&c.Window, "window", c.Window, "pairs, hot, fanout: sends in flight per sender (when --rate is 0)")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "pairs, hot, fanout: total send rate in msg/s (0: as fast as the window allows)")
	fs.IntVar(&c.Senders, "senders", c.Senders, "hot: senders into the one group")
	fs.StringVar(&c.HotVia, "hot-via", c.HotVia, "hot: ws (1003; the senders are online and get each other's pushes) or rest (/msg/send_msg; only the write path)")
	fs.IntVar(&c.Members, "members", c.Members, "fanout: online members of the group besides the sender (at most 1000)")
	fs.IntVar(&c.Conns, "conns", c.Conns, "idle: connections to hold")
	fs.DurationVar(&c.Hold, "hold", c.Hold, "idle: how long to hold them (the server's heartbeat runs meanwhile)")
	fs.DurationVar(&c.Heartbeat, "heartbeat", c.Heartbeat, "idle: client WebSocket ping interval (0: only answer the server's pings)")
	fs.IntVar(&c.DialConcurrency, "dial-concurrency", c.DialConcurrency, "connections (and token requests) opened at once")
	fs.IntVar(&c.PerIP, "per-ip", c.PerIP, "connections per source address before the next of 127.0.0.x is used (IPv4 targets)")
	fs.IntVar(&c.RestWorkers, "rest-workers", c.RestWorkers, "rest: concurrent callers")
	fs.BoolVar(&c.FullDecode, "full-decode", c.FullDecode, "pairs, hot and fanout: decode every push with package client instead of scanning it for the IDs imload needs")
	fs.StringVar(&c.Nodes, "nodes", c.Nodes, "several server nodes, comma-separated host:port (loopback): connection i opens on node i mod N, so pairs cross nodes and group members spread; REST setup uses --target")
	fs.StringVar(&c.NodePIDs, "node-pids", c.NodePIDs, "the process IDs of the --nodes, in order: each node's CPU per delivered message from /proc; more than --nodes: the extra nodes hold no connection of the run (what traffic between others costs a bystander)")
	fs.StringVar(&c.SharedPIDs, "shared-pids", c.SharedPIDs, "process IDs every node shares (PostgreSQL's postmaster, a NATS server), counted with their descendants")
	return fs
}

func (c *Config) check() error {
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	if c.Duration <= 0 || c.Duration > MaxDuration {
		bad("--duration %v: want more than 0 and at most %v", c.Duration, MaxDuration)
	}
	if c.Drain < 0 || c.Drain > MaxDuration || c.Hold < 0 || c.Hold > MaxDuration || c.Timeout <= 0 || c.Timeout > 24*time.Hour {
		bad("--drain, --hold (at most 1h) and --timeout (at most 24h) must be positive")
	}
	if c.MaxMsgs <= 0 || c.MaxMsgs > MaxMsgs {
		bad("--max-msgs %d: want 1..%d", c.MaxMsgs, MaxMsgs)
	}
	if c.Payload < 0 || c.Payload > 40_000 {
		bad("--payload %d: want 0..40000 bytes", c.Payload)
	}
	if c.Pairs <= 0 || c.Pairs > MaxConns/2 || c.Senders <= 0 || c.Senders > 1000 || c.Members <= 0 || c.Members > 1000 {
		bad("--pairs (1..%d), --senders (1..1000), --members (1..1000) out of range", MaxConns/2)
	}
	if c.Window <= 0 || c.Window > 1024 || c.Rate < 0 || c.Rate > 10_000_000 {
		bad("--window (1..1024) or --rate (0..1e7) out of range")
	}
	if c.Conns <= 0 || c.Conns > MaxConns || c.DialConcurrency <= 0 || c.DialConcurrency > 4096 || c.RestWorkers <= 0 || c.RestWorkers > 4096 {
		bad("--conns (1..%d), --dial-concurrency, --rest-workers (1..4096) out of range", MaxConns)
	}
	if c.HotVia != "ws" && c.HotVia != "rest" {
		bad("--hot-via %q: want ws or rest", c.HotVia)
	}
	if c.Secret == "" {
		bad("--secret is required")
	}
	if _, err := ParseTarget(c.Target); err != nil {
		bad("%v", err)
	}
	nodes, err := nodeTargets(c.Nodes)
	if err != nil {
		bad("%v", err)
	}
	pids, err := pidList("--node-pids", c.NodePIDs)
	if err != nil {
		bad("%v", err)
	}
	if len(pids) > 0 && len(pids) < len(nodes) {
		bad("--node-pids names %d processes for %d --nodes", len(pids), len(nodes))
	}
	if _, err := pidList("--shared-pids", c.SharedPIDs); err != nil {
		bad("%v", err)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Scenarios are the scenario names in the order "all" runs them.
var Scenarios = []string{"pairs", "hot", "fanout", "idle", "rest"}

const usage = `imload drives an OpenIM-compatible server on this machine over REST and WebSocket.

usage: imload [flags] SCENARIO[:flag=value,...] ...

SCENARIO is pairs, hot, fanout, idle, rest or all; a scenario may override flags for itself, e.g.
  imload --target 127.0.0.1:10002 --secret S pairs pairs:rate=500 hot:senders=50 idle:conns=20000

flags:
`

// Main runs imload with args (without the program name); it returns the process exit code: 0 when every
// scenario ran and found nothing lost, 1 when a scenario failed, 2 on bad usage.
func Main(args []string, stdout, stderr io.Writer) int {
	base := defaults()
	fs := flags(&base, "imload", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	var specs []string
	for rest := args; ; { // flags may come before, between and after the scenarios
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		specs = append(specs, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(specs) == 0 {
		fmt.Fprintln(stderr, "imload: name at least one scenario (pairs, hot, fanout, idle, rest, all)")
		fs.Usage()
		return 2
	}
	var runs []spec
	for _, s := range specs {
		rs, err := parseSpec(base, s, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "imload:", err)
			return 2
		}
		runs = append(runs, rs...)
	}
	for _, r := range runs {
		if err := r.cfg.check(); err != nil {
			fmt.Fprintf(stderr, "imload: %s: %v\n", r.label, err)
			return 2
		}
	}
	if base.CPUProfile != "" {
		f, err := os.Create(base.CPUProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "imload: cpu profile:", err)
			return 2
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), base.Timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	rep := Report{Started: time.Now().UTC(), Target: runs[0].cfg.Target, Machine: machine(), Command: "imload " + strings.Join(maskSecret(args), " ")}
	code := 0
	for _, r := range runs {
		if ctx.Err() != nil {
			rep.Results = append(rep.Results, Result{Scenario: r.name, Label: r.label, Status: StatusSkipped, Reason: "run interrupted or --timeout reached"})
			continue
		}
		for _, res := range Run(ctx, r.name, r.label, r.cfg, stderr) {
			rep.Results = append(rep.Results, res)
			if res.Status == StatusFailed {
				code = 1
			}
		}
	}
	rep.Finished = time.Now().UTC()
	WriteTable(stdout, rep)
	if base.JSON != "" {
		if err := rep.WriteJSON(base.JSON); err != nil {
			fmt.Fprintln(stderr, "imload:", err)
			code = 1
		}
	}
	return code
}

// maskSecret hides the value of --secret: the command is written to the JSON report, which gets shared.
func maskSecret(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		switch {
		case a == "--secret" || a == "-secret":
			if i+1 < len(out) {
				out[i+1] = "***"
			}
		case strings.HasPrefix(a, "--secret=") || strings.HasPrefix(a, "-secret="):
			k, _, _ := strings.Cut(a, "=")
			out[i] = k + "=***"
		}
	}
	return out
}

type spec struct {
	name, label string
	cfg         Config
}

// parseSpec reads "name" or "name:flag=value,flag=value" ("all" expands to every scenario).
func parseSpec(base Config, s string, stderr io.Writer) ([]spec, error) {
	name, over, _ := strings.Cut(s, ":")
	var names []string
	switch name {
	case "all":
		names = Scenarios
	case "pairs", "hot", "fanout", "idle", "rest":
		names = []string{name}
	default:
		return nil, fmt.Errorf("unknown scenario %q (want pairs, hot, fanout, idle, rest or all)", name)
	}
	c := base
	if over != "" {
		var fargs []string
		for _, kv := range strings.Split(over, ",") {
			if kv = strings.TrimSpace(kv); kv != "" {
				fargs = append(fargs, "--"+kv)
			}
		}
		fs := flags(&c, name, stderr)
		if err := fs.Parse(fargs); err != nil {
			return nil, fmt.Errorf("scenario %q: %w", s, err)
		}
		if fs.NArg() > 0 {
			return nil, fmt.Errorf("scenario %q: unexpected %q", s, fs.Args())
		}
		if c.JSON != base.JSON || c.Target != base.Target || c.Timeout != base.Timeout {
			return nil, fmt.Errorf("scenario %q: --json, --target and --timeout apply to the whole run", s)
		}
	}
	out := make([]spec, len(names))
	for i, n := range names {
		label := n
		if over != "" {
			label = n + ":" + over
		}
		out[i] = spec{name: n, label: label, cfg: c}
	}
	return out, nil
}

// Run runs one scenario (rest gives two results, one per operation). It never panics out: a setup failure
// is a failed Result with the reason.
func Run(ctx context.Context, name, label string, cfg Config, progress io.Writer) (res []Result) {
	start := time.Now()
	r, err := newRunner(cfg, progress)
	if err != nil {
		return []Result{{Scenario: name, Label: label, Status: StatusFailed, Reason: err.Error()}}
	}
	r.label = label
	defer func() {
		if p := recover(); p != nil {
			res = []Result{{Status: StatusFailed, Reason: fmt.Sprintf("imload bug: panic: %v", p)}}
		}
		r.close()
		for i := range res {
			x := &res[i]
			x.Scenario = name
			if x.Label == "" {
				x.Label = label
			}
			if x.Status == "" {
				x.Status = StatusOK
			}
			x.Params = r.params(name)
			x.WallSeconds = round(time.Since(start).Seconds(), 1)
			r.logf("%s: %s %s", x.Label, x.Status, x.Reason)
		}
	}()
	r.logf("%s: starting (%s)", label, paramString(r.params(name)))
	switch name {
	case "pairs":
		return []Result{r.pairs(ctx)}
	case "hot":
		return []Result{r.hot(ctx)}
	case "fanout":
		return []Result{r.fanout(ctx)}
	case "idle":
		return []Result{r.idle(ctx)}
	case "rest":
		return r.rest(ctx)
	}
	return []Result{{Status: StatusFailed, Reason: "unknown scenario"}}
}

// runner holds what one scenario needs: the target, an HTTP client and the users it made.
type runner struct {
	cfg     Config
	t       Target
	hc      *http.Client
	api     *client.REST
	run     string // random tag in the user IDs of this scenario
	label   string
	out     io.Writer
	conns   []*client.WS
	closers []io.Closer // light receivers

	nodes            []Target // --nodes; empty: every connection on t
	nodePIDs, shared []int
}

func newRunner(cfg Config, out io.Writer) (*runner, error) {
	t, err := ParseTarget(cfg.Target)
	if err != nil {
		return nil, err
	}
	hc := newHTTPClient(max(cfg.RestWorkers, cfg.DialConcurrency))
	r := &runner{cfg: cfg, t: t, hc: hc, api: &client.REST{BaseURL: t.API, HTTP: hc}, run: client.NewID("")[:8], out: out}
	if r.nodes, err = nodeTargets(cfg.Nodes); err != nil {
		return nil, err
	}
	if r.nodePIDs, err = pidList("--node-pids", cfg.NodePIDs); err != nil {
		return nil, err
	}
	if r.shared, err = pidList("--shared-pids", cfg.SharedPIDs); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *runner) logf(format string, a ...any) {
	fmt.Fprintf(r.out, "imload %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

// close ends every connection the scenario opened, a few at a time, bounded.
func (r *runner) close() {
	conns, closers := r.conns, r.closers
	r.conns, r.closers = nil, nil
	parallel(len(conns), 256, func(i int) { _ = conns[i].Close() })
	parallel(len(closers), 256, func(i int) { _ = closers[i].Close() })
	r.hc.CloseIdleConnections()
}

func (r *runner) params(name string) map[string]any {
	c := r.cfg
	p := map[string]any{}
	switch name {
	case "pairs":
		p["pairs"] = c.Pairs
	case "hot":
		p["senders"], p["via"] = c.Senders, c.HotVia
	case "fanout":
		p["members"] = c.Members
	case "idle":
		p["conns"], p["hold"] = c.Conns, c.Hold.String()
		if c.Heartbeat > 0 {
			p["heartbeat"] = c.Heartbeat.String()
		}
		return p
	case "rest":
		p["workers"], p["duration"] = c.RestWorkers, c.Duration.String()
		return p
	}
	if c.Rate > 0 {
		p["rate"] = c.Rate
	} else {
		p["window"] = c.Window
	}
	p["duration"], p["payload"] = c.Duration.String(), c.Payload
	return p
}

func paramString(p map[string]any) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%v", k, p[k])
	}
	return b.String()
}

// parallel calls f(0..n-1) with at most width calls at once.
func parallel(n, width int, f func(i int)) {
	if n == 0 {
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(width, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// progress prints line() every interval until the returned stop is called.
func (r *runner) progress(label string, line func(elapsed time.Duration) string) (stop func()) {
	if r.cfg.Quiet || r.cfg.Progress <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	wg.Go(func() {
		t := time.NewTicker(r.cfg.Progress)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r.logf("%s %5.1fs %s", label, time.Since(start).Seconds(), line(time.Since(start)))
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func machine() Machine {
	m := Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = round(float64(kb)/(1<<20), 1)
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

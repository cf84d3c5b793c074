package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Target is the server under load: where it answers and how to tell that it is on this machine.
type Target struct {
	HostPort string // "127.0.0.1:10002" or "[::1]:10002"
	IP       net.IP // the loopback address the server answers on
	Base     string // "http://host:port"
	API      string // Base + "/api/v3"
	WS       string // "ws://host:port/msg_gateway"
}

// ParseTarget accepts "host:port", "http://host:port" or "ws://host:port[/...]" and refuses any host that is
// not a loopback address (127.0.0.0/8, ::1, or the name localhost, taken as 127.0.0.1). Names are never
// resolved: imload sends traffic to this machine only.
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	hostPort := s
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return Target{}, fmt.Errorf("target %q: %w", s, err)
		}
		switch u.Scheme {
		case "http", "ws":
		default:
			return Target{}, fmt.Errorf("target %q: scheme %s is not supported (use http:// or ws://; imload drives local servers only)", s, u.Scheme)
		}
		hostPort = u.Host
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: want host:port (for example 127.0.0.1:10002): %w", s, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return Target{}, fmt.Errorf("target %q: bad port %q", s, port)
	}
	var ip net.IP
	if strings.EqualFold(host, "localhost") {
		ip = net.IPv4(127, 0, 0, 1)
	} else if ip = net.ParseIP(host); ip == nil {
		return Target{}, fmt.Errorf("target %q: %q is not an IP address; imload refuses to resolve names and drives servers on this machine only (127.0.0.0/8, ::1 or localhost)", s, host)
	}
	if !ip.IsLoopback() {
		return Target{}, fmt.Errorf("target %q: %s is not a loopback address; imload drives servers on this machine only (127.0.0.0/8, ::1 or localhost)", s, ip)
	}
	hp := net.JoinHostPort(ip.String(), port)
	return Target{
		HostPort: hp, IP: ip, Base: "http://" + hp, API: "http://" + hp + "/api/v3", WS: "ws://" + hp + "/msg_gateway",
	}, nil
}

// SourceIP returns the loopback source address for connection i when connections are spread perIP to an
// address: 127.0.0.1 for the first perIP, 127.0.0.2 for the next, ... (IPv4 targets only; an IPv6 target
// always uses ::1). Each source address has its own range of ephemeral ports (about 28,000 by default).
func (t Target) SourceIP(i, perIP int) string {
	if t.IP.To4() == nil {
		return "::1"
	}
	if perIP <= 0 {
		perIP = 1 << 30
	}
	n := i/perIP + 1 // 127.0.0.1 .. 127.0.0.254, then 127.0.1.1 ...
	return fmt.Sprintf("127.0.%d.%d", (n-1)/254, (n-1)%254+1)
}

// newHTTPClient is a client for the target only: no proxy, connections kept for conns workers.
func newHTTPClient(conns int) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil, // never a proxy: the traffic stays on loopback
			DialContext:         d.DialContext,
			MaxIdleConns:        conns + 16,
			MaxIdleConnsPerHost: conns + 16,
			IdleConnTimeout:     90 * time.Second,
		},
	}
}

// ServerStats are what imload reads about the server process: from /proc/<pid> when the pid is known,
// else from the Prometheus text at /metrics (process_resident_memory_bytes, process_cpu_seconds_total, and
// Go's heap and stack gauges when the server is a Go program).
type ServerStats struct {
	RSS        float64 // bytes
	CPUSeconds float64
	HeapInuse  float64 // bytes; 0 when unknown
	StackInuse float64 // bytes; 0 when unknown
	Source     string  // "proc" or "metrics"
	Metrics    map[string]float64
}

func readServerStats(ctx context.Context, hc *http.Client, t Target, pid int) (ServerStats, error) {
	var st ServerStats
	m, merr := scrapeMetrics(ctx, hc, t.Base+"/metrics")
	st.Metrics = m
	if m != nil {
		st.RSS = m["process_resident_memory_bytes"]
		st.CPUSeconds = m["process_cpu_seconds_total"]
		st.HeapInuse = m["go_memstats_heap_inuse_bytes"]
		st.StackInuse = m["go_memstats_stack_inuse_bytes"]
		st.Source = "metrics"
	}
	if pid > 0 {
		rss, cpu, err := procStats(pid)
		if err != nil {
			return st, err
		}
		st.RSS, st.CPUSeconds, st.Source = rss, cpu, "proc"
		return st, nil
	}
	if merr != nil {
		return st, merr
	}
	if st.RSS == 0 {
		return st, fmt.Errorf("%s/metrics has no process_resident_memory_bytes; pass --server-pid", t.Base)
	}
	return st, nil
}

// scrapeMetrics reads the unlabelled series of a Prometheus text exposition (labelled ones are summed
// under their bare name).
func scrapeMetrics(ctx context.Context, hc *http.Client, u string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", u, res.StatusCode)
	}
	return parseMetrics(io.LimitReader(res.Body, 16<<20))
}

func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		var name, rest string
		if b := strings.IndexByte(line, '{'); b >= 0 {
			e := strings.LastIndexByte(line, '}')
			if e < b {
				continue
			}
			name, rest = line[:b], line[e+1:]
		} else if sp := strings.IndexByte(line, ' '); sp >= 0 {
			name, rest = line[:sp], line[sp+1:]
		} else {
			continue
		}
		f := strings.Fields(rest) // value [timestamp]
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out, sc.Err()
}

// procStats reads the resident memory and the CPU time (user+system) of a process of this machine.
func procStats(pid int) (rss, cpuSeconds float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("--server-pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v) // "12345 kB"
			if len(f) >= 1 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				rss = kb * 1024
			}
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return rss, 0, err
	}
	// Fields after the ")" that ends the command name: state is field 3; utime 14, stime 15.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		f := strings.Fields(s[i+1:])
		if len(f) > 12 {
			ut, _ := strconv.ParseFloat(f[11], 64)
			st, _ := strconv.ParseFloat(f[12], 64)
			cpuSeconds = (ut + st) / 100 // USER_HZ is 100 on Linux
		}
	}
	return rss, cpuSeconds, nil
}

// procCPU returns the CPU seconds (user+system, plus those of reaped children) of process pid alone, and
// of pid with all its descendants (a server with an embedded database: the database's processes too).
func procCPU(pid int) (own, tree float64, err error) {
	type proc struct {
		ppid int
		cpu  float64
	}
	procs := map[int]proc{}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, err
	}
	for _, d := range dirs {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // f[0] state, f[1] ppid, ..., f[11] utime, f[12] stime, f[13] cutime, f[14] cstime
		if len(f) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		var ticks float64
		for _, k := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseFloat(f[k], 64)
			ticks += v
		}
		procs[p] = proc{ppid: ppid, cpu: ticks / 100} // USER_HZ is 100 on Linux
	}
	root, ok := procs[pid]
	if !ok {
		return 0, 0, fmt.Errorf("process %d not found", pid)
	}
	children := map[int][]int{}
	for p, x := range procs {
		children[x.ppid] = append(children[x.ppid], p)
	}
	tree = 0
	stack := []int{pid}
	for seen := 0; len(stack) > 0 && seen < len(procs); seen++ { // bounded by the number of processes
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		tree += procs[p].cpu
		stack = append(stack, children[p]...)
	}
	return root.cpu, tree, nil
}

// cpuMeter measures the CPU that a stretch of load costs the server (with --server-pid), the server with
// its database processes, and imload itself.
type cpuMeter struct {
	pid                       int
	own0, tree0, self0, busy0 float64
	ok                        bool
}

// machineBusy is the CPU seconds every processor of the machine spent busy so far (/proc/stat).
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for _, k := range []int{1, 2, 3, 6, 7} {
		v, _ := strconv.ParseFloat(f[k], 64)
		busy += v
	}
	return busy / 100
}

func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func startCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid, self0: selfCPU(), busy0: machineBusy()}
	if pid > 0 {
		var err error
		m.own0, m.tree0, err = procCPU(pid)
		m.ok = err == nil
	}
	return m
}

// report adds the CPU figures per unit of work (n units, e.g. acknowledged messages or deliveries).
func (m *cpuMeter) report(res *Result, n int64, unit string, wall time.Duration) {
	if n <= 0 {
		return
	}
	self := selfCPU() - m.self0
	busy := machineBusy() - m.busy0
	ours := self
	if m.ok {
		if own, tree, err := procCPU(m.pid); err == nil {
			res.add("server CPU per "+unit, round((own-m.own0)/float64(n)*1e6, 1), "µs")
			res.add("server+database CPU per "+unit, round((tree-m.tree0)/float64(n)*1e6, 1), "µs")
			res.add("server+database CPU used", round(100*(tree-m.tree0)/wall.Seconds(), 0), "% of one core")
			ours += tree - m.tree0
		}
	}
	res.add("imload CPU per "+unit, round(self/float64(n)*1e6, 1), "µs")
	res.add("imload CPU used", round(100*self/wall.Seconds(), 0), "% of one core")
	if busy > 0 && m.ok {
		res.add("CPU used by other processes of the machine", round(max(0, 100*(busy-ours)/wall.Seconds()), 0), "% of one core")
	}
}

package load

import (
	"fmt"
	"strconv"
	"strings"
)

// Several server nodes behind no load balancer: with --nodes, connection i of a scenario opens on node
// i mod N (the REST setup still goes to --target), so a pair's sender and receiver sit on different nodes
// whenever N > 1 (connections 2i and 2i+1), and a fanout group's members spread evenly over every node.
// With --node-pids each node's CPU is read from /proc and reported per delivered message, and --shared-pids
// adds the processes every node shares (the PostgreSQL postmaster with its backends, a NATS server). Process
// IDs past the --nodes are idle nodes of the same deployment: they hold no connection of the run, so their CPU
// is what the others' traffic costs a bystander (with a broadcast bus it grows with every message).

// nodeTargets parses --nodes: a comma-separated list of loopback host:port (empty: only --target).
func nodeTargets(s string) ([]Target, error) {
	var out []Target
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		t, err := ParseTarget(f)
		if err != nil {
			return nil, fmt.Errorf("--nodes: %w", err)
		}
		out = append(out, t)
	}
	return out, nil
}

// pidList parses a comma-separated list of process IDs.
func pidList(flag, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := strconv.Atoi(f)
		if err != nil || p <= 0 {
			return nil, fmt.Errorf("%s: %q is not a process ID", flag, f)
		}
		out = append(out, p)
	}
	return out, nil
}

// nodeFor is the target of connection i: node i mod N with --nodes, else --target.
func (r *runner) nodeFor(i int) Target {
	if len(r.nodes) == 0 {
		return r.t
	}
	return r.nodes[i%len(r.nodes)]
}

// nodeMeter reads the CPU of each node process and of the shared processes (with their descendants).
type nodeMeter struct {
	active        int // nodes[:active] hold the run's connections
	nodes, shared []int
	node0         []float64
	shared0       []float64
	ok            bool
}

func startNodes(active int, nodes, shared []int) *nodeMeter {
	m := &nodeMeter{active: min(active, len(nodes)), nodes: nodes, shared: shared, ok: len(nodes) > 0}
	if !m.ok {
		return m
	}
	var err error
	if m.node0, err = nodeCPU(nodes); err != nil {
		m.ok = false
	}
	m.shared0 = sharedCPU(shared)
	return m
}

func nodeCPU(pids []int) ([]float64, error) {
	out := make([]float64, len(pids))
	for i, p := range pids {
		_, cpu, err := procStats(p)
		if err != nil {
			return nil, err
		}
		out[i] = cpu
	}
	return out, nil
}

// sharedCPU is the CPU of each process with its descendants (PostgreSQL's backends); 0 when it is gone.
func sharedCPU(pids []int) []float64 {
	out := make([]float64, len(pids))
	for i, p := range pids {
		if _, tree, err := procCPU(p); err == nil {
			out[i] = tree
		}
	}
	return out
}

// report adds, per delivered message: each node's CPU, their mean and sum, and the shared processes' CPU.
func (m *nodeMeter) report(res *Result, delivered int64, unit string) {
	if !m.ok || delivered <= 0 {
		return
	}
	now, err := nodeCPU(m.nodes)
	if err != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("node CPU not read: %v", err))
		return
	}
	var sum, idle float64
	for i := range now {
		d := now[i] - m.node0[i]
		sum += d
		if i >= m.active {
			idle += d
		}
		res.add(fmt.Sprintf("node %d CPU per %s", i+1, unit), round(d/float64(delivered)*1e6, 2), "µs")
	}
	per := func(cpu, nodes float64) float64 { return round(cpu/nodes/float64(delivered)*1e6, 2) }
	res.add("nodes", float64(m.active), "")
	res.add("per-node CPU per "+unit+" (mean)", per(sum-idle, float64(m.active)), "µs")
	if n := len(now) - m.active; n > 0 {
		res.add("idle nodes", float64(n), "")
		res.add("idle node CPU per "+unit+" (mean)", per(idle, float64(n)), "µs")
	}
	res.add("all nodes CPU per "+unit, per(sum, 1), "µs")
	var shared float64
	for i, cpu := range sharedCPU(m.shared) {
		d := cpu - m.shared0[i]
		shared += d
		res.add(fmt.Sprintf("shared process %d CPU per %s", i+1, unit), round(d/float64(delivered)*1e6, 2), "µs")
	}
	if len(m.shared) > 0 {
		res.add("shared processes (database, bus) CPU per "+unit, round(shared/float64(delivered)*1e6, 2), "µs")
	}
}

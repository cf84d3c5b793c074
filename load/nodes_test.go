package load

import (
	"os"
	"strings"
	"testing"
)

func TestNodesSpreadConnectionsRoundRobin(t *testing.T) {
	c := defaults()
	c.Nodes = "127.0.0.1:1001, 127.0.0.1:1002,127.0.0.1:1003"
	r, err := newRunner(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Pairs use connections 2i (sender) and 2i+1 (receiver): on 3 nodes the two are never on the same node.
	for i := range 30 {
		s, rcv := r.nodeFor(2*i), r.nodeFor(2*i+1)
		if s.HostPort == rcv.HostPort {
			t.Errorf("pair %d: sender and receiver both on %s", i, s.HostPort)
		}
	}
	if got, want := r.nodeFor(4).WS, "ws://127.0.0.1:1002/msg_gateway"; got != want {
		t.Errorf("connection 4: got %s, want %s", got, want)
	}
	c.Nodes = ""
	r, err = newRunner(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.nodeFor(7).HostPort; got != r.t.HostPort {
		t.Errorf("without --nodes connection 7 went to %s, want --target %s", got, r.t.HostPort)
	}
}

func TestNodesFlagsChecked(t *testing.T) {
	for _, tc := range []struct {
		name, nodes, pids, shared, want string
	}{
		{"non-loopback node", "127.0.0.1:1,10.0.0.1:2", "", "", "not a loopback address"},
		{"fewer pids than nodes", "127.0.0.1:1,127.0.0.1:2", "11", "", "--node-pids names 1 processes for 2 --nodes"},
		{"bad pid", "127.0.0.1:1", "x", "", `--node-pids: "x" is not a process ID`},
		{"bad shared pid", "", "", "0", `--shared-pids: "0" is not a process ID`},
	} {
		c := defaults()
		c.Nodes, c.NodePIDs, c.SharedPIDs = tc.nodes, tc.pids, tc.shared
		err := c.check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	c := defaults()
	c.Nodes, c.NodePIDs = "127.0.0.1:1", "11,12" // one more pid: an idle node
	if err := c.check(); err != nil {
		t.Errorf("an idle node's pid past --nodes: %v", err)
	}
}

func TestNodeMeterReportsEachNodeAndTheIdleOne(t *testing.T) {
	self := os.Getpid()
	m := startNodes(1, []int{self, self}, []int{self})
	if !m.ok {
		t.Fatal("could not read this process's CPU from /proc")
	}
	var res Result
	m.report(&res, 1000, "delivery")
	got := map[string]bool{}
	for _, f := range res.Figures {
		got[f.Name] = true
	}
	for _, name := range []string{"node 1 CPU per delivery", "node 2 CPU per delivery", "per-node CPU per delivery (mean)",
		"idle node CPU per delivery (mean)", "all nodes CPU per delivery", "shared process 1 CPU per delivery"} {
		if !got[name] {
			t.Errorf("figure %q missing; got %v", name, res.Figures)
		}
	}
}

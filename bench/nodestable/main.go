// Command nodestable prints the table of bench/nodes.sh (make bench-nodes) from imload's JSON reports named
// <bus>-<nodes>.json: per scenario, bus and node count, the delivery rate, the CPU each node spent per
// delivered message (mean, and all nodes together), that of the shared processes (PostgreSQL, nats-server)
// and the latency, as a Markdown table.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/imspec/imserver/load"
)

type row struct {
	bus   string
	nodes int
	idle  bool // one more node, holding none of the run's connections
	res   load.Result
}

func main() {
	var rows []row
	for _, path := range os.Args[1:] {
		parts := strings.Split(strings.TrimSuffix(filepath.Base(path), ".json"), "-")
		nodes, err := 0, error(nil)
		if len(parts) >= 2 {
			nodes, err = strconv.Atoi(parts[1])
		}
		if len(parts) < 2 || len(parts) > 3 || err != nil || len(parts) == 3 && parts[2] != "idle" {
			fmt.Fprintf(os.Stderr, "nodestable: %s: want <bus>-<nodes>.json or <bus>-<nodes>-idle.json\n", path)
			os.Exit(2)
		}
		bus := parts[0]
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "nodestable:", err)
			os.Exit(1)
		}
		var rep load.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			fmt.Fprintf(os.Stderr, "nodestable: %s: %v\n", path, err)
			os.Exit(1)
		}
		for _, r := range rep.Results {
			rows = append(rows, row{bus, nodes, len(parts) == 3, r})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.res.Label != b.res.Label {
			return a.res.Label > b.res.Label // pairs before fanout
		}
		if a.nodes != b.nodes {
			return a.nodes < b.nodes
		}
		if a.idle != b.idle {
			return !a.idle
		}
		return a.bus < b.bus
	})
	fmt.Println("| scenario | bus | nodes | status | delivered/s | per-node CPU µs/delivery (mean) | idle node µs | all nodes µs | PostgreSQL µs | nats-server µs | each node µs | p99 ms |")
	fmt.Println("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|")
	for _, r := range rows {
		fig := map[string]float64{}
		var each []string
		for _, f := range r.res.Figures {
			fig[f.Name] = f.Value
			if strings.HasPrefix(f.Name, "node ") && strings.Contains(f.Name, " CPU per ") {
				each = append(each, strconv.FormatFloat(f.Value, 'f', 2, 64))
			}
		}
		unit := "delivered message"
		if r.res.Scenario == "fanout" {
			unit = "delivery"
		}
		p99 := ""
		if r.res.Latency != nil {
			p99 = strconv.FormatFloat(r.res.Latency.P99MS, 'f', 1, 64)
		}
		nodes, idle := strconv.Itoa(r.nodes), ""
		if r.idle {
			nodes += " + 1 idle"
			idle = strconv.FormatFloat(fig["idle node CPU per "+unit+" (mean)"], 'f', 2, 64)
		}
		natsCPU := "" // bench/nodes.sh passes PostgreSQL's pid first, then nats-server's
		if v, ok := fig["shared process 2 CPU per "+unit]; ok {
			natsCPU = strconv.FormatFloat(v, 'f', 2, 64)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %.2f | %s | %.2f | %.2f | %s | %s | %s |\n", r.res.Label, r.bus, nodes, r.res.Status,
			load.Thousands(r.res.DeliverRate), fig["per-node CPU per "+unit+" (mean)"], idle, fig["all nodes CPU per "+unit],
			fig["shared process 1 CPU per "+unit], natsCPU, strings.Join(each, " / "), p99)
	}
}

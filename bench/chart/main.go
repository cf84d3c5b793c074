// Command chart draws imload's JSON output (imload --json) as SVG charts, with the standard library only:
//
//	pairs-latency.svg   the send→receive latency distribution of every pairs run at a fixed rate
//	throughput.svg      each scenario's throughput against its target
//	fanout-latency.svg  the distribution of the time a message takes to reach the last member of the group
//
// make bench (bench/run.sh) runs it next to imload's table: go run ./bench/chart -in imload.json -out DIR.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/imspec/imserver/load"
)

func main() {
	in := flag.String("in", "imload.json", "imload's --json output")
	out := flag.String("out", ".", "directory the SVG files are written to")
	flag.Parse()
	names, err := run(*in, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
	for _, n := range names {
		fmt.Println(n)
	}
}

// run writes every chart the report has data for and returns the files written.
func run(in, outDir string) ([]string, error) {
	rep, err := readReport(in)
	if err != nil {
		return nil, err
	}
	charts := []struct {
		name string
		draw func(load.Report) (string, bool)
	}{
		{"pairs-latency.svg", pairsLatency},
		{"throughput.svg", throughput},
		{"fanout-latency.svg", fanoutLatency},
	}
	var written []string
	for _, c := range charts {
		svg, ok := c.draw(rep)
		if !ok {
			continue
		}
		p := filepath.Join(outDir, c.name)
		if err := os.WriteFile(p, []byte(svg), 0o644); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	if len(written) == 0 {
		return nil, errors.New(in + ": no results to draw (no pairs at a fixed rate, no scenario with a throughput, no fanout)")
	}
	return written, nil
}

func readReport(path string) (load.Report, error) {
	var rep load.Report
	b, err := os.ReadFile(path)
	if err != nil {
		return rep, err
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}

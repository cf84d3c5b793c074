// Command compare prints how a change moved imload's figures: given the JSON reports (imload --json) of
// alternated runs of a base and a new build (base, new, base, new, …), it prints per scenario and figure the
// median and range of each side and the ratio new/base of every alternated pair, as a median and its
// min–max. Pairing neighbours cancels most of the drift of a shared machine, and the range shows what is
// left: a change is called better or worse only when three or more pairs all moved the same way by more than
// -threshold and more than the base runs' own spread. bench/compare.sh (make bench-compare) runs the builds and calls it.
//
//	compare -base b1.json,b2.json -new n1.json,n2.json [-benchstat DIR]
//
// With -benchstat it also writes DIR/base.txt and DIR/new.txt in the Go benchmark format, for
// golang.org/x/perf/cmd/benchstat where it is installed.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/imspec/imserver/load"
)

func main() {
	base := flag.String("base", "", "the base's imload JSON reports, comma-separated, in run order")
	next := flag.String("new", "", "the new build's imload JSON reports, comma-separated, in run order (the i-th pairs with the base's i-th)")
	threshold := flag.Float64("threshold", 0.02, "a change smaller than this fraction in any pair is not called better or worse")
	bs := flag.String("benchstat", "", "also write base.txt and new.txt in the Go benchmark format to this directory")
	flag.Parse()
	if err := run(os.Stdout, split(*base), split(*next), *threshold, *bs); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func run(w io.Writer, basePaths, newPaths []string, threshold float64, benchstatDir string) error {
	if len(basePaths) == 0 || len(newPaths) == 0 {
		return errors.New("need at least one -base and one -new report")
	}
	base, err := readReports(basePaths)
	if err != nil {
		return err
	}
	next, err := readReports(newPaths)
	if err != nil {
		return err
	}
	rows := compare(base, next)
	if len(rows) == 0 {
		return errors.New("the reports have no scenario in common with a figure to compare")
	}
	writeTable(w, rows, threshold, len(base), len(next))
	if benchstatDir != "" {
		for name, reps := range map[string][]load.Report{"base.txt": base, "new.txt": next} {
			if err := os.WriteFile(filepath.Join(benchstatDir, name), []byte(benchfmt(reps)), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func readReports(paths []string) ([]load.Report, error) {
	var out []load.Report
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var rep load.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, rep)
	}
	return out, nil
}

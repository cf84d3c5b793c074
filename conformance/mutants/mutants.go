// Package mutants is the conformance suite's test of itself: a set of realistic server bugs (a skipped
// permission check, a notification to the wrong people, a seq off by one, a wrong error code, a dropped
// field…), each put into a copy of imserver on its own, built, and run against imconform. A mutant the suite
// fails on is killed; one it passes survived, and either a new case kills it or README.md says why the public
// API cannot show it.
//
// A mutant is data, not a patch: a file glob, an exact code snippet that must occur exactly once in the files
// the glob matches (tests excluded), and its replacement. Code that moves between files or packages keeps its
// mutants; a mutant whose snippet is gone (or no longer unique) is reported "stale", not counted.
//
// `make mutants` runs them all (TestMutants with IMCONFORM_MUTANTS=all); CI runs a sample (the first mutant of
// each area).
package mutants

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Mutant is one bug.
type Mutant struct {
	ID      string // short, stable: what -run / IMCONFORM_MUTANTS picks
	Area    string // one of Areas
	Desc    string // the bug, as a person would describe it
	Files   string // glob of the files to search, from the repository root: ** any directories, * within one
	Find    string // exact snippet, found exactly once in the matching files
	Replace string
}

// Areas are the areas the kill rate is reported by.
var Areas = []string{"authorization", "routing", "content", "semantics", "sync", "pagination", "errors", "validation", "blacklist", "ws"}

// Status of a located mutant.
const (
	Stale = "stale" // the snippet is not found exactly once
)

var globCache = map[string]*regexp.Regexp{}

// globRE turns a glob (**/ any directories, * and ? within a name) into a regular expression on slash paths.
func globRE(glob string) *regexp.Regexp {
	if re, ok := globCache[glob]; ok {
		return re
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; {
		case strings.HasPrefix(glob[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(glob[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re := regexp.MustCompile(b.String())
	globCache[glob] = re
	return re
}

// Locate finds the mutant's snippet in the tree at dir: the file it is in and how often it occurs in all
// matching files together (the mutant applies when that is 1).
func (m Mutant) Locate(dir string) (file string, n int, err error) {
	re := globRE(m.Files)
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(rel, "_test.go") || !re.MatchString(rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if c := bytes.Count(b, []byte(m.Find)); c > 0 {
			n += c
			file = rel
		}
		return nil
	})
	return file, n, err
}

// Apply puts the mutant into the tree at dir and returns the function that takes it out again.
func (m Mutant) Apply(dir string) (restore func() error, err error) {
	file, n, err := m.Locate(dir)
	if err != nil {
		return nil, err
	}
	if n != 1 {
		return nil, fmt.Errorf("%s: the snippet occurs %d times in %s (want once): %q", Stale, n, m.Files, m.Find)
	}
	p := filepath.Join(dir, filepath.FromSlash(file))
	orig, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	mutated := bytes.Replace(orig, []byte(m.Find), []byte(m.Replace), 1)
	if err := os.WriteFile(p, mutated, 0o644); err != nil {
		return nil, err
	}
	return func() error { return os.WriteFile(p, orig, 0o644) }, nil
}

// CopyTree copies the repository at root (tracked and untracked files that git does not ignore) to dst,
// which is emptied first.
func CopyTree(root, dst string) error {
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return fmt.Errorf("git ls-files in %s: %w", root, err)
	}
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if rel == "" {
			continue
		}
		src := filepath.Join(root, rel)
		st, err := os.Lstat(src)
		if err != nil || !st.Mode().IsRegular() {
			continue // deleted in the work tree, or a symlink
		}
		if err := copyFile(src, filepath.Join(dst, rel), st.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Build builds the server of the tree at dir into out.
func Build(ctx context.Context, dir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./server/cmd/imserver")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, b)
	}
	return nil
}

// Sample is the first mutant of each area, in the order of Areas: a short run that still touches every area.
func Sample(set []Mutant) []Mutant {
	seen := map[string]bool{}
	var out []Mutant
	for _, m := range set {
		if !seen[m.Area] {
			seen[m.Area] = true
			out = append(out, m)
		}
	}
	order := map[string]int{}
	for i, a := range Areas {
		order[a] = i
	}
	sort.SliceStable(out, func(i, j int) bool { return order[out[i].Area] < order[out[j].Area] })
	return out
}

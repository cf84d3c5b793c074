package docs

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"
)

// root is the repository root: this package is its docs/ directory.
const root = ".."

// generated trees are rebuilt from the files checked here, so they are not checked themselves.
var generated = []string{"gen/", "tsclient/gen/"}

// repoFiles lists the repository's files (slash paths relative to root) outside the generated trees: what git
// tracks plus untracked files it does not ignore, or, without git (an exported tree), every file but .git,
// node_modules and the build outputs.
func repoFiles(t *testing.T) []string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found beside docs/: %v", err)
	}
	var files []string
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err == nil {
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
	} else {
		t.Logf("git ls-files failed (%v); walking the tree instead", err)
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				switch rel {
				case ".git", ".bin", "data", "build":
					return filepath.SkipDir
				}
				if d.Name() == "node_modules" {
					return filepath.SkipDir
				}
				return nil
			}
			files = append(files, rel)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	kept := files[:0]
next:
	for _, f := range files {
		for _, g := range generated {
			if strings.HasPrefix(f, g) {
				continue next
			}
		}
		kept = append(kept, f)
	}
	sort.Strings(kept)
	// An empty or wrong listing would let every check below pass.
	for _, must := range []string{"openapi/openapi.yaml", "asyncapi/asyncapi.yaml", "docs/decisions.md"} {
		if i := sort.SearchStrings(kept, must); i == len(kept) || kept[i] != must {
			t.Fatalf("file listing of %s lacks %s", root, must)
		}
	}
	return kept
}

// forEachLine calls fn for every line of every listed file that still exists.
func forEachLine(t *testing.T, files []string, fn func(file string, n int, line string)) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree, not yet in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue // binary
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, len(b)+1)
		for n := 1; sc.Scan(); n++ {
			fn(f, n, sc.Text())
		}
	}
}

// The team's briefing documents are not part of the repository, so nothing in it may cite them: their decisions
// and facts belong in decisions.md. The names are split so that this file does not match itself.
var briefing = regexp.MustCompile(`\b` + "MISS" + `ION\b|OPENIM` + "-FACTS")

func TestNoBriefingCitations(t *testing.T) {
	forEachLine(t, repoFiles(t), func(file string, n int, line string) {
		if m := briefing.FindAllString(line, -1); m != nil {
			t.Errorf("%s:%d cites %q, not in the repository; cite docs/decisions.md instead: %s",
				file, n, m, strings.TrimSpace(line))
		}
	})
}

// slug is the anchor GitHub gives a heading: lower case, punctuation other than - and _ dropped, spaces as -.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func anchors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("decisions.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fenced := false
	for n, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		s := slug(strings.TrimSpace(strings.TrimLeft(line, "#")))
		if out[s] {
			t.Errorf("decisions.md:%d: anchor #%s is used twice", n+1, s)
		}
		out[s] = true
	}
	return out
}

var (
	citation = regexp.MustCompile(`decisions\.md#([A-Za-z0-9_-]+)`)
	local    = regexp.MustCompile(`\]\(#([A-Za-z0-9_-]+)\)`)
)

// Every citation of decisions.md, from any file, names a heading that exists, so the anchors can be relied on.
func TestDecisionCitations(t *testing.T) {
	have := anchors(t)
	for _, want := range []string{"d1-auth-header", "f3-msgdata-fields"} {
		if !have[want] {
			t.Fatalf("decisions.md: no heading makes #%s; the slug rules here or the headings changed", want)
		}
	}
	cited := 0
	forEachLine(t, repoFiles(t), func(file string, n int, line string) {
		refs := citation.FindAllStringSubmatch(line, -1)
		if file == "docs/decisions.md" {
			refs = append(refs, local.FindAllStringSubmatch(line, -1)...)
		} else {
			cited += len(refs)
		}
		for _, m := range refs {
			if !have[m[1]] {
				t.Errorf("%s:%d cites decisions.md#%s, which is not a heading of docs/decisions.md", file, n, m[1])
			}
		}
	})
	if cited == 0 {
		t.Error("no file cites docs/decisions.md; the citation pattern no longer matches how the specs cite it")
	}
}

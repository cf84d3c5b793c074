package pgembed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// InstallHint says how to get the PostgreSQL server binaries on a Debian or Ubuntu machine.
const InstallHint = "apt-get install -y postgresql"

// debianBinGlob is where Debian's postgresql-<version> packages put the server binaries (not on $PATH).
var debianBinGlob = "/usr/lib/postgresql/*/bin"

// ErrNoBinaries is returned (wrapped) by [FindBinDir] and [Start] when initdb and postgres cannot be found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found")

// FindBinDir returns the directory holding both initdb and postgres. A non-empty dir is checked and
// used as is. Otherwise it looks on $PATH, then in the newest /usr/lib/postgresql/<version>/bin
// (where Debian's postgresql package installs them).
func FindBinDir(dir string) (string, error) {
	if dir != "" {
		if !hasServerBinaries(dir) {
			return "", fmt.Errorf("pgembed: %w in %s; install them with `%s` (Debian/Ubuntu) or point BinDir elsewhere",
				ErrNoBinaries, dir, InstallHint)
		}
		return dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if d := filepath.Dir(p); hasServerBinaries(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if d := filepath.Dir(p); hasServerBinaries(d) {
			return d, nil
		}
	}
	matches, _ := filepath.Glob(debianBinGlob)
	// Newest version first: compare the <version> path element numerically ("16" > "9.6").
	sort.Slice(matches, func(i, j int) bool {
		return versionLess(filepath.Base(filepath.Dir(matches[j])), filepath.Base(filepath.Dir(matches[i])))
	})
	for _, d := range matches {
		if hasServerBinaries(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("pgembed: %w on $PATH or in %s; install them with `%s` "+
		"(Debian/Ubuntu, as root), or configure a database URL to use an existing PostgreSQL server",
		ErrNoBinaries, debianBinGlob, InstallHint)
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionLess compares dotted version strings numerically; non-numeric parts compare as 0.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return a < b
}

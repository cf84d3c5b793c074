package pgembed

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// removeStalePidFile deals with a postmaster.pid left behind by a postgres that did not shut down
// (killed, machine crash). postgres itself refuses to start when the pid written there belongs to any
// live process, which after a restart of a container or machine is often an unrelated one that reused
// the pid. So:
//   - the pid is a live postgres working in this data directory: error, the cluster is in use;
//   - otherwise, postgres processes of the dead server may still be running in the data directory: wait
//     a little for them to notice the postmaster's death, then kill them;
//   - the old server's shared memory segment (line 7 of the file) still has processes attached:
//     error, old server processes still use the data directory;
//   - otherwise the file is stale and is removed.
func removeStalePidFile(dataDir string, logf func(string, ...any)) error {
	path := filepath.Join(dataDir, "postmaster.pid")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
	if pid < 0 {
		pid = -pid // a standalone backend writes its pid negated
	}
	gone := "which is gone"
	if pid > 0 && pid != os.Getpid() && pid != os.Getppid() && processAlive(pid) {
		if isPostgresIn(pid, dataDir) {
			return fmt.Errorf("pgembed: PostgreSQL (pid %d) is already running on %s; stop it first", pid, dataDir)
		}
		logf("pgembed: %s names pid %d, which is now an unrelated process", path, pid)
		gone = "now an unrelated process"
	}
	waitOrphans(dataDir, logf)
	if len(lines) >= 7 {
		if f := strings.Fields(lines[6]); len(f) == 2 {
			if id, err := strconv.Atoi(f[1]); err == nil {
				if n := shmAttached(id); n > 0 {
					return fmt.Errorf("pgembed: old server processes still use %s (%d attached to its shared memory "+
						"segment %d); terminate them, then start again", dataDir, n, id)
				}
			}
		}
	}
	logf("pgembed: removing stale %s (left by pid %d, %s)", path, pid, gone)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pgembed: %w", err)
	}
	return nil
}

// processAlive reports whether pid is a live process (a zombie, dead but not yet reaped, is not).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return (err == nil || err == syscall.EPERM) && !isZombie(pid)
}

// waitOrphans waits up to 5 s for the processes of a dead postmaster to exit (each notices the death
// of its postmaster soon, unless busy with a long query), then kills those left. Every postgres
// process works in its data directory and leads its own session, so they are found by their
// working directory, not by process group.
func waitOrphans(dataDir string, logf func(string, ...any)) {
	pids := postgresProcsIn(dataDir)
	if len(pids) == 0 {
		return
	}
	logf("pgembed: waiting for %d orphaned processes of the old server to exit", len(pids))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if pids = postgresProcsIn(dataDir); len(pids) == 0 {
			return
		}
	}
	logf("pgembed: killing orphaned server processes %v", pids)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && len(postgresProcsIn(dataDir)) > 0; {
		time.Sleep(20 * time.Millisecond)
	}
}

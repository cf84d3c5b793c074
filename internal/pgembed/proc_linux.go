package pgembed

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr runs the child in its own process group (so a terminal's Ctrl-C reaches only us), as
// owner when set, and has the kernel send it deathSig when the thread that started it exits; see
// startLocked for how that thread is kept alive exactly as long as the child. (Go sets the
// parent-death signal after switching credentials, so the switch does not clear it.)
func sysProcAttr(owner *runAs, deathSig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  deathSig,
		Credential: owner.credential(),
	}
}

// isPostgresIn reports whether live process pid is a PostgreSQL server working in dataDir. When that
// cannot be checked (no permission), a process named postgres counts as one.
func isPostgresIn(pid int, dataDir string) bool {
	proc := "/proc/" + strconv.Itoa(pid)
	if cwd, err := os.Readlink(proc + "/cwd"); err == nil {
		want, err := filepath.EvalSymlinks(dataDir)
		if err != nil {
			want = dataDir
		}
		return cwd == want
	}
	comm, err := os.ReadFile(proc + "/comm")
	if err != nil {
		return !os.IsNotExist(err)
	}
	name := strings.TrimSpace(string(comm))
	return name == "postgres" || name == "postmaster"
}

// shmAttached returns how many processes are attached to System V shared memory segment id (0 if it
// does not exist), from /proc/sysvipc/shm.
func shmAttached(id int) int {
	f, err := os.Open("/proc/sysvipc/shm")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header: key shmid perms size cpid lpid nattch ...
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 || fields[1] != strconv.Itoa(id) {
			continue
		}
		n, _ := strconv.Atoi(fields[6])
		return n
	}
	return 0
}

// procStat returns the state and process group of pid from /proc/<pid>/stat.
func procStat(pid string) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return 0, 0, false
	}
	pgrp, err = strconv.Atoi(f[2])
	return f[0][0], pgrp, err == nil
}

func isZombie(pid int) bool {
	state, _, ok := procStat(strconv.Itoa(pid))
	return ok && (state == 'Z' || state == 'X')
}

// postgresProcsIn returns the live processes named postgres whose working directory is dataDir.
func postgresProcsIn(dataDir string) []int {
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && cwd == want && !isZombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

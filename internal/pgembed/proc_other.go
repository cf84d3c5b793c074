//go:build unix && !linux

package pgembed

import "syscall"

// sysProcAttr runs the child in its own process group, as owner when set. Without Linux's
// parent-death signal, postgres survives a parent that is killed with SIGKILL; the stale
// postmaster.pid handling at the next start copes with that.
func sysProcAttr(owner *runAs, _ syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: owner.credential()}
}

// isPostgresIn cannot tell on this system; a live pid counts as a running server.
func isPostgresIn(int, string) bool { return true }

func shmAttached(int) int { return 0 }

func isZombie(int) bool { return false }

func postgresProcsIn(string) []int { return nil }

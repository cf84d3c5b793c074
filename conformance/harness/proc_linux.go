package harness

import (
	"os/exec"
	"runtime"
	"syscall"
)

// sysProcAttr puts the server in its own process group (a terminal's Ctrl-C reaches only the test
// binary, whose cleanup stops it) and has the kernel kill it when the test binary dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// startLocked starts cmd from a goroutine locked to its OS thread and keeps that thread until the child
// exits, then calls exited with the result of cmd.Wait. The parent-death signal fires when the thread
// that forked the child exits, not the process, and the Go runtime may end threads; pinning the thread
// for the child's lifetime makes the signal fire only when the test binary itself dies (as in pgembed).
func startLocked(cmd *exec.Cmd, exited func(error)) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited(cmd.Wait())
	}()
	return <-started
}

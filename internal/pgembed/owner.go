package pgembed

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// runAs is the unprivileged user initdb and postgres run as when this process is root.
type runAs struct {
	name     string
	uid, gid uint32
}

// serviceUser is created (useradd --system) when the process is root and no "postgres" user exists.
const serviceUser = "imserver"

// resolveOwner returns nil when the process is not root (postgres then runs as the current user).
// As root it returns the "postgres" system user if it exists, else the "imserver" system user, which is
// created if needed.
func resolveOwner(logf func(string, ...any)) (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", serviceUser} {
		if u, err := lookupUser(name); err == nil {
			return u, nil
		}
	}
	args := []string{"--system", "--no-create-home", "--user-group"}
	if _, err := os.Stat("/usr/sbin/nologin"); err == nil {
		args = append(args, "--shell", "/usr/sbin/nologin")
	}
	args = append(args, serviceUser)
	out, err := exec.Command("useradd", args...).CombinedOutput()
	// Another process may have created it at the same moment: look it up whatever useradd said.
	u, lerr := lookupUser(serviceUser)
	if lerr == nil {
		if err == nil {
			logf("pgembed: created system user %q to run PostgreSQL (it refuses to run as root)", serviceUser)
		}
		return u, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pgembed: running as root, and PostgreSQL refuses to; creating the system user %q "+
			"with `useradd %s` failed: %v: %s (create an unprivileged user named postgres, or run as a non-root user)",
			serviceUser, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil, fmt.Errorf("pgembed: %w", lerr)
}

func lookupUser(name string) (*runAs, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	if uid == 0 {
		return nil, fmt.Errorf("user %s is root", name)
	}
	return &runAs{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
}

// credential returns the SysProcAttr credential for owner (nil: run as ourselves).
func (o *runAs) credential() *syscall.Credential {
	if o == nil {
		return nil
	}
	return &syscall.Credential{Uid: o.uid, Gid: o.gid}
}

// prepareDataDir creates dataDir (mode 0700; missing parents 0755), gives it to owner (if any, also
// making its ancestors traversable for owner) and fixes permissions postgres would reject.
func prepareDataDir(dataDir string, owner *runAs, logf func(string, ...any)) error {
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if err := os.Mkdir(dataDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("pgembed: %w", err)
	}
	fi, err := os.Stat(dataDir)
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("pgembed: data directory %s is not a directory", dataDir)
	}
	if owner != nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && (st.Uid != owner.uid || st.Gid != owner.gid) {
			logf("pgembed: giving %s to user %s", dataDir, owner.name)
			err := filepath.WalkDir(dataDir, func(p string, _ fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				return os.Lchown(p, int(owner.uid), int(owner.gid))
			})
			if err != nil {
				return fmt.Errorf("pgembed: chown %s: %w", dataDir, err)
			}
		}
		if err := ensureTraversable(dataDir, owner, logf); err != nil {
			return err
		}
	}
	// postgres accepts 0700 or 0750 only.
	if perm := fi.Mode().Perm(); perm != 0o700 && perm != 0o750 {
		if err := os.Chmod(dataDir, 0o700); err != nil {
			return fmt.Errorf("pgembed: %w", err)
		}
	}
	return nil
}

// ensureTraversable adds the search (x) bit that owner lacks on the ancestors of dir. Only search is
// granted, not listing. (Temporary directories, for one, are created 0700 by root.)
func ensureTraversable(dir string, owner *runAs, logf func(string, ...any)) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgembed: %w", err)
		}
		perm := fi.Mode().Perm()
		bit := os.FileMode(0o001)
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			switch {
			case st.Uid == owner.uid:
				bit = 0o100
			case st.Gid == owner.gid:
				bit = 0o010
			}
		}
		if perm&bit == 0 {
			logf("pgembed: adding search permission to %s so that user %s can reach the data directory", d, owner.name)
			if err := os.Chmod(d, fi.Mode()&(os.ModePerm|os.ModeSticky|os.ModeSetuid|os.ModeSetgid)|bit); err != nil {
				return fmt.Errorf("pgembed: user %s cannot reach %s: %w", owner.name, dir, err)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

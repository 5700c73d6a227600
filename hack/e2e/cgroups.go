package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// cgroupRoot is where the host mounts its cgroup hierarchies.
const cgroupRoot = "/sys/fs/cgroup"

// sandboxCgroup is the cgroup a sandbox's systemd is started in, the same
// relative path in every hierarchy. systemd takes the cgroup it starts in as
// its root, so everything it creates stays below this path and removing it
// at the end leaves the host's cgroup trees as they were.
type sandboxCgroup struct {
	rel  string   // e.g. /berth-e2e-1234-1
	dirs []string // absolute dirs the sandbox is placed in, one per hierarchy
	all  []string // dirs to remove at the end: dirs plus cpuset's, which
	// runtimes such as libcontainer create below the same path
}

// hierarchies lists the mounted cgroup hierarchies: the single cgroup2
// mount on unified hosts, else every v1 hierarchy plus the cgroup2 one of
// hybrid mode.
func hierarchies() ([]string, error) {
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		return []string{cgroupRoot}, nil
	}
	entries, err := os.ReadDir(cgroupRoot)
	if err != nil {
		return nil, fmt.Errorf("listing cgroup hierarchies: %w", err)
	}
	var out []string
	for _, e := range entries {
		p := filepath.Join(cgroupRoot, e.Name())
		if !e.IsDir() {
			continue
		}
		// Symlinks such as cpu,cpuacct -> cpu are skipped by IsDir; a
		// directory without cgroup.procs is not a mounted hierarchy.
		if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err != nil {
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("no cgroup hierarchy mounted under " + cgroupRoot)
	}
	return out, nil
}

func newSandboxCgroup(name string) (*sandboxCgroup, error) {
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	removeStale(hs)
	cg := &sandboxCgroup{rel: "/" + name}
	for _, h := range hs {
		d := filepath.Join(h, name)
		cg.all = append(cg.all, d)
		// A new v1 cpuset group has no CPUs until configured, and systemd
		// does not use cpuset on v1: the sandbox stays in the parent's.
		if filepath.Base(h) == "cpuset" {
			continue
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			_ = cg.remove(time.Second)
			return nil, fmt.Errorf("creating sandbox cgroup %s: %w", d, err)
		}
		cg.dirs = append(cg.dirs, d)
	}
	return cg, nil
}

// procsFiles are the cgroup.procs files the stage writes its own PID to.
func (c *sandboxCgroup) procsFiles() []string {
	out := make([]string, len(c.dirs))
	for i, d := range c.dirs {
		out[i] = filepath.Join(d, "cgroup.procs")
	}
	return out
}

// remove deletes the sandbox's cgroup trees bottom-up, retrying for up to
// wait because the kernel empties killed cgroups asynchronously.
func (c *sandboxCgroup) remove(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		var errs []error
		for _, d := range c.all {
			if err := removeTree(d); err != nil {
				errs = append(errs, err)
			}
		}
		err := errors.Join(errs...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeTree rmdirs every directory below and including root, deepest first
// (cgroupfs directories are removed with rmdir, never by unlinking files).
func removeTree(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walking cgroup %s: %w", root, err)
	}
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	var errs []error
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// removeStale removes sandbox cgroups left by a test binary that was killed
// before its cleanup ran (its name carries the binary's PID; the sandbox's
// processes died with it through Pdeathsig). Errors are ignored: a cgroup
// still busy is retried by the next run.
func removeStale(hs []string) {
	for _, h := range hs {
		matches, _ := filepath.Glob(filepath.Join(h, "berth-e2e-*-*"))
		for _, m := range matches {
			var pid, n int
			if _, err := fmt.Sscanf(filepath.Base(m), "berth-e2e-%d-%d", &pid, &n); err != nil {
				continue
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
				_ = removeTree(m)
			}
		}
	}
}

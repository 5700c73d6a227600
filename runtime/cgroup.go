package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/cgroups"
)

// launcherLeaf is the child cgroup the launcher moves itself into on pure
// cgroup v2, so the unit's cgroup holds no process and can delegate
// controllers to the container's cgroup (the no-internal-process rule).
const launcherLeaf = "launcher"

// controlLeaf is where systemd puts ExecStopPost= and friends in a unit with
// Delegate=yes on cgroup v2.
const controlLeaf = ".control"

// cgroupV2Root is where the unified hierarchy is mounted on pure v2 hosts.
const cgroupV2Root = "/sys/fs/cgroup"

// unitCgroup is the cgroup the container nests in: the launcher's own, as
// systemd tracks it. On cgroup v1 and hybrid that is the name=systemd line
// of /proc/self/cgroup (libcontainer uses the same absolute path in every
// hierarchy, including hybrid's unified one, so systemd keeps tracking the
// container); on pure v2 the 0:: line, minus a leaf berth or systemd put the
// calling process in.
func unitCgroup() (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("reading own cgroup: %w", err)
	}
	defer f.Close()
	want := "name=systemd"
	if cgroups.IsCgroup2UnifiedMode() {
		want = ""
	}
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 || parts[1] != want {
			continue
		}
		p := path.Clean(parts[2])
		// With Delegate=yes systemd runs ExecStopPost= in <unit>/.control,
		// on v1's name=systemd hierarchy as on v2.
		if b := path.Base(p); b == controlLeaf || (want == "" && b == launcherLeaf) {
			p = path.Dir(p)
		}
		return p, nil
	}
	if err := s.Err(); err != nil {
		return "", fmt.Errorf("reading own cgroup: %w", err)
	}
	if want == "" {
		return "", errors.New("reading own cgroup: no 0:: line in /proc/self/cgroup")
	}
	return "", errors.New("reading own cgroup: no name=systemd line in /proc/self/cgroup (is the cgroup v1 systemd hierarchy mounted?)")
}

// containerCgroup is the absolute cgroupsPath handed to libcontainer.
func containerCgroup(unit, id string) string { return path.Join(unit, id) }

// enterLauncherLeaf moves the launcher into <unit>/launcher on pure cgroup
// v2 and returns that directory; on v1 and hybrid it does nothing and
// returns "".
func enterLauncherLeaf(unit string) (string, error) {
	if !cgroups.IsCgroup2UnifiedMode() {
		return "", nil
	}
	dir := filepath.Join(cgroupV2Root, unit, launcherLeaf)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("creating launcher cgroup %s: %w", dir, err)
	}
	if err := cgroups.WriteFile(dir, "cgroup.procs", strconv.Itoa(os.Getpid())); err != nil {
		return "", fmt.Errorf("moving launcher into %s: %w", dir, err)
	}
	return dir, nil
}

// removeCgroups removes <unit>/<id> (and on v2 <unit>/launcher) in every
// mounted hierarchy. In a v1 hierarchy where the calling process does not
// sit inside <unit> (systemd did not make the unit's cgroup there, so
// libcontainer created it for the container), <unit> itself is removed too
// when empty. Missing directories are fine; one that still holds processes
// is reported.
func removeCgroups(unit, id string) error {
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return m.FSType != "cgroup" && m.FSType != "cgroup2", false
	})
	if err != nil {
		return fmt.Errorf("listing cgroup hierarchies: %w", err)
	}
	own, err := cgroups.ParseCgroupFile("/proc/self/cgroup")
	if err != nil {
		return fmt.Errorf("reading own cgroup: %w", err)
	}
	var errs []error
	seen := map[string]bool{}
	for _, m := range mounts {
		// A hierarchy mounted from a sub-cgroup (Root != "/") shows
		// paths relative to that root; skip those we cannot map.
		if m.Root != "/" || seen[m.Mountpoint] {
			continue
		}
		seen[m.Mountpoint] = true
		errs = append(errs, removeCgroupTree(filepath.Join(m.Mountpoint, unit, id)))
		if cgroups.IsCgroup2UnifiedMode() {
			// A launcher cleaning up after its own failed start still sits
			// in the leaf (rmdir would be EBUSY); the unit's ExecStopPost=
			// cleanup, run from .control, removes it.
			if leaf := path.Join(unit, launcherLeaf); own[""] != leaf {
				errs = append(errs, removeCgroupTree(filepath.Join(m.Mountpoint, leaf)))
			}
			continue
		}
		if mine, ok := ownPathIn(m, own); ok && !isWithin(mine, unit) {
			// Best effort: busy or not empty means someone else uses it.
			_ = os.Remove(filepath.Join(m.Mountpoint, unit))
		}
	}
	return errors.Join(errs...)
}

// ownPathIn is the caller's cgroup in the v1 hierarchy mounted at m.
func ownPathIn(m *mountinfo.Info, own map[string]string) (string, bool) {
	if m.FSType == "cgroup2" {
		p, ok := own[""]
		return p, ok
	}
	for _, opt := range strings.Split(m.VFSOptions, ",") {
		for key, p := range own {
			for _, ctrl := range strings.Split(key, ",") {
				if ctrl != "" && ctrl == opt {
					return p, true
				}
			}
		}
	}
	return "", false
}

// isWithin reports whether cgroup p is dir or below it.
func isWithin(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// removeCgroupTree removes an empty cgroup directory and its empty
// sub-cgroups (cgroup dirs are removed with rmdir, deepest first).
func removeCgroupTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing cgroup %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, removeCgroupTree(filepath.Join(dir, e.Name())))
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dir, err))
	}
	return errors.Join(errs...)
}

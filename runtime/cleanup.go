package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/image"
)

// Cleanup undoes everything Run made for id: it kills and destroys the
// container (state and cgroups), unmounts the rootfs, removes the run and
// state directories and the cgroup directories named for id under the
// unit's cgroup. It is idempotent and safe when nothing exists; a failed
// step is reported (errors.Join) and the remaining steps still run.
//
// A kill by the OOM killer is reported first (see oomError).
func Cleanup(ctx context.Context, opts Options, id string) error {
	opts = opts.withDefaults()
	var oom error
	if unit, err := unitCgroup(); err == nil {
		oom = oomError(opts, unit, id)
	}
	return errors.Join(oom, cleanup(ctx, opts, id, deps{unmount: image.Unmount}))
}

func cleanup(ctx context.Context, opts Options, id string, d deps) error {
	opts = opts.withDefaults()
	l, err := newLayout(opts, id)
	if err != nil {
		return err
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	add(destroyContainer(ctx, l, id))
	// Not cut short by SIGTERM: systemd terminates ExecStopPost= once the
	// unit's TimeoutStopSec= (the stop grace period) has passed, and a CNI
	// DEL stopped half-way leaves rules behind. Whatever is still left when
	// systemd SIGKILLs is removed by the next run of id or by network GC.
	add(teardownNetwork(context.WithoutCancel(ctx), opts, id))
	add(unmountRootfs(l.rootfs, d.unmount))
	add(removeDir(l.runDir))
	add(removeDir(l.stateDir))
	// The shared parents (<run>/containers, libcontainer's root,
	// <state>/containers) stay: removing them when empty raced with another
	// container creating its own directory in them.
	if unit, err := unitCgroup(); err != nil {
		add(err)
	} else {
		add(removeCgroups(unit, id))
	}
	return errors.Join(errs...)
}

// destroyContainer kills the container if it still runs and lets
// libcontainer remove its state and cgroups; when libcontainer cannot load
// the state any more, its directory is removed directly.
func destroyContainer(ctx context.Context, l layout, id string) error {
	if _, err := os.Stat(l.libcontainerC); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	c, err := libcontainer.Load(l.libcontainer, id)
	if err != nil {
		if rmErr := os.RemoveAll(l.libcontainerC); rmErr != nil {
			return fmt.Errorf("removing container state %s (after load failed: %v): %w", l.libcontainerC, err, rmErr)
		}
		return nil
	}
	var errs []error
	if st, err := c.Status(); err == nil && st != libcontainer.Stopped {
		if err := c.Signal(unix.SIGKILL); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
			errs = append(errs, fmt.Errorf("killing container %s: %w", id, err))
		}
		waitStopped(ctx, c, 5*time.Second)
	}
	if err := c.Destroy(); err != nil {
		errs = append(errs, fmt.Errorf("destroying container %s: %w", id, err))
	}
	return errors.Join(errs...)
}

// waitStopped polls until the container's init is gone, so Destroy finds
// empty cgroups; the process is not our child, so it cannot be waited for.
func waitStopped(ctx context.Context, c *libcontainer.Container, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if st, err := c.Status(); err != nil || st == libcontainer.Stopped {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// unmountRootfs unmounts the overlay if (and only if) it is mounted.
func unmountRootfs(target string, unmount func(string) error) error {
	mounted, err := mountinfo.Mounted(target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking mount %s: %w", target, err)
	}
	if !mounted {
		return nil
	}
	if err := unmount(target); err != nil {
		return fmt.Errorf("unmounting rootfs %s: %w", target, err)
	}
	return nil
}

// removeDir removes dir and everything in it, refusing to cross into a
// mount (the rootfs must be unmounted before).
func removeDir(dir string) error {
	if mounted, err := mountinfo.Mounted(dir + "/rootfs"); err == nil && mounted {
		return fmt.Errorf("not removing %s: the rootfs below it is still mounted", dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}

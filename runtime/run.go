package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/image"
)

// Run prepares and starts svc's container, writes its PID 1 to the unit's
// PIDFile= (and, under a Type=notify unit, sends READY=1 and MAINPID= over
// $NOTIFY_SOCKET), and returns: the container keeps running as the unit's
// main process and no berth process remains.
// Leftovers of an earlier run are cleaned first; on failure everything Run
// made is cleaned again before the error is returned.
//
// Before returning it waits for the service's readiness: READY=1 from the
// container (NotifyContainer) or its first passing health check
// (NotifyHealthy), so the unit becomes active only then.
func Run(ctx context.Context, opts Options, svc *model.Service) error {
	return run(ctx, opts, svc, defaultDeps())
}

func defaultDeps() deps {
	return deps{
		ensure:  ensureFromStore,
		mount:   image.Mount,
		unmount: image.Unmount,
		stdout:  os.Stdout,
		stderr:  os.Stderr,
	}
}

func run(ctx context.Context, opts Options, svc *model.Service, d deps) (retErr error) {
	opts = opts.withDefaults()
	id := svc.ID()
	l, err := newLayout(opts, id)
	if err != nil {
		return err
	}
	log := opts.Log.With("container", id)
	t := newPhases()

	if err := cleanup(ctx, opts, id, d); err != nil {
		log.Warn("cleaning leftovers of an earlier run", "err", err)
	}

	t.mark("cleanup")
	img, err := d.ensure(ctx, opts, svc.Image, svc.PullPolicy)
	t.mark("image")
	if err != nil {
		if strings.HasPrefix(err.Error(), "pulling ") {
			return err // the store already says what it was pulling
		}
		return fmt.Errorf("pulling %s: %w", svc.Image, err)
	}

	defer func() {
		if retErr != nil {
			if err := cleanup(context.WithoutCancel(ctx), opts, id, d); err != nil {
				log.Error("cleaning up after failed start", "err", err)
			}
		}
	}()

	// The state dirs stay 0700; image.Mount gives the upper dir, the
	// container's "/", the image's owner and mode for "/".
	for _, dir := range []string{l.stateDir, l.runDir, l.libcontainer} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	if err := d.mount(l.rootfs, l.upper, l.work, img.Layers); err != nil {
		return fmt.Errorf("mounting rootfs of %s: %w", svc.Image, err)
	}

	t.mark("mount")
	unit, err := unitCgroup()
	if err != nil {
		return err
	}
	if svc.Tty {
		// A terminal needs a pty master held open for the container's whole
		// life, i.e. a resident process, and the journal wants lines, not a
		// terminal; the container keeps the journal as stdout/stderr.
		log.Warn("tty: true is ignored: the container's output goes to the journal without a terminal")
	}
	stor, err := prepareStorage(opts, l, svc, l.rootfs)
	if err != nil {
		return err
	}
	started := false
	defer func() {
		if retErr != nil && !started {
			stor.removeCreated(opts.StateDir)
		}
	}()
	netc, err := setupNetwork(ctx, opts, l.runDir, svc)
	if err != nil {
		return fmt.Errorf("setting up the network: %w", err)
	}
	t.mark("network")
	in := specInput{svc: svc, img: img, rootfs: l.rootfs, cgroupsPath: containerCgroup(unit, id), storage: stor}
	if svc.Init {
		if in.init, err = findInit(); err != nil {
			return err
		}
		log.Debug("init for PID 1", "binary", in.init.path)
	}
	spec, err := buildSpec(in)
	if err != nil {
		return fmt.Errorf("building container config: %w", err)
	}
	applyNetwork(spec, netc)
	if err := joinPod(spec, opts.RunDir, svc); err != nil {
		return err
	}
	var proxy *notifyProxy
	if svc.Notify == model.NotifyContainer && !d.wait {
		if proxy, err = newNotifyProxy(l); err != nil {
			return err
		}
		defer func() {
			if retErr != nil {
				proxy.close()
			}
		}()
		proxy.addToSpec(spec)
	}
	listenFiles, listenEnv, err := inheritedSockets(svc)
	if err != nil {
		return err
	}
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName: id,
		Spec:       spec,
	})
	if err != nil {
		return fmt.Errorf("converting container config: %w", err)
	}

	t.mark("spec")
	if _, err := enterLauncherLeaf(unit); err != nil {
		return err
	}
	c, err := createContainer(l.libcontainer, id, config)
	if err != nil {
		return fmt.Errorf("creating container: %w", err)
	}
	p := spec.Process
	proc := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		Cwd:             p.Cwd,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Stdout:          d.stdout,
		Stderr:          d.stderr,
		Capabilities:    config.Capabilities,
		NoNewPrivileges: &p.NoNewPrivileges,
		Init:            true,
		// Sockets systemd passed for a socket-activated service: fds 3..
		// in the container, announced by LISTEN_* in its environment.
		ExtraFiles: listenFiles,
	}
	proc.Env = append(slices.Clone(proc.Env), listenEnv...)
	for _, g := range p.User.AdditionalGids {
		proc.AdditionalGroups = append(proc.AdditionalGroups, int(g))
	}
	if proc.Rlimits, err = processRlimits(p.Rlimits); err != nil {
		return err
	}
	t.mark("create")
	if err := c.Run(proc); err != nil {
		return fmt.Errorf("starting container: %w", err)
	}
	started = true
	t.mark("start")
	pid, err := proc.Pid()
	if err != nil {
		return fmt.Errorf("reading container pid: %w", err)
	}

	if d.wait {
		return runToCompletion(ctx, opts, svc, l, proc, pid, img.Digest, d)
	}
	if err := waitExec(ctx, pid, 5*time.Second); err != nil {
		return err
	}
	t.mark("exec")

	st := &State{ID: id, Pid: pid, Image: svc.Image, Digest: img.Digest, Started: time.Now().UTC(),
		User: &User{UID: proc.UID, GID: proc.GID, Groups: proc.AdditionalGroups}, StopSignal: effectiveStopSignal(svc.StopSignal, img.Config.StopSignal)}
	if err := writeState(l.stateFile, st); err != nil {
		return err
	}
	// systemd reads the main PID from here once berth run has exited: by
	// then the container has been reparented to systemd, so systemd treats
	// it as its own child and stops it with KillSignal, then SIGKILL after
	// TimeoutStopSec. A MAINPID= handed over while berth run was still the
	// parent made it an "alien" main PID, which systemd SIGKILLs at once.
	if err := writeFileAtomic(l.pidFile, []byte(fmt.Sprintf("%d\n", pid))); err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	log.Info("container started", "pid", pid, "image", svc.Image, "digest", img.Digest, "took", t.String())

	switch svc.Notify {
	case model.NotifyContainer:
		if err := proxy.waitReady(ctx, pid, log); err != nil {
			return err
		}
		// The unit has NotifyAccess=all for the container's later
		// messages; the launcher sends nothing itself (a MAINPID= from it
		// would make the container an "alien" main PID).
		proxy.handOver(os.Getenv("NOTIFY_SOCKET"), log)
		log.Info("container is ready", "by", "READY=1", "took", t.String())
		return nil
	case model.NotifyHealthy:
		if err := waitHealthy(ctx, opts, svc); err != nil {
			return err
		}
		log.Info("container is ready", "by", "first passing health check", "took", t.String())
	}
	if err := notifyReady(os.Getenv("NOTIFY_SOCKET"), pid); err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	return nil
}

// waitExec waits until the container's init has exec'd the service's
// program: libcontainer's Run returns once the init is released, slightly
// before its execve, and READY=1 should mean the service runs. The init runs
// a sealed copy of this binary (so /proc/PID/exe tells nothing) with the
// command line "<os.Args[0]> init"; the program's differs, and is empty only
// in the middle of execve.
func waitExec(ctx context.Context, pid int, limit time.Duration) error {
	initCmdline := os.Args[0] + "\x00init\x00"
	deadline := time.Now().Add(limit)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && len(b) > 0 && string(b) != initCmdline {
			return nil
		}
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("container process %d exited right after start", pid)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("container process %d did not exec its command within %v", pid, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// createContainer creates id in libcontainer's root, made right before
// (older cleanups removed that shared root when it was empty, racing with
// a pod's members starting side by side).
func createContainer(root, id string, config *configs.Config) (*libcontainer.Container, error) {
	for attempt := 1; ; attempt++ {
		if err := os.MkdirAll(root, 0o700); err != nil {
			return nil, err
		}
		c, err := libcontainer.Create(root, id, config)
		if err == nil || attempt == 3 || !errors.Is(err, fs.ErrNotExist) {
			return c, err
		}
	}
}

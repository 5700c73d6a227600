package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/image"
	"github.com/berth-dev/berth/runtime/network"
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

func run(ctx context.Context, opts Options, svc *model.Service, d deps) error {
	s, err := newLaunch(ctx, opts, svc, d)
	if err != nil {
		return err
	}
	return s.run(s.phases())
}

func newLaunch(ctx context.Context, opts Options, svc *model.Service, d deps) (*launch, error) {
	opts = opts.withDefaults()
	id := svc.ID()
	if svc.Accepts() {
		// One container per connection: each instance unit has its own.
		if !d.wait {
			return nil, fmt.Errorf("service %s accepts connections (accept: true): its instances run with --wait", id)
		}
		var err error
		if id, err = model.InstanceID(id, os.Getenv("INVOCATION_ID")); err != nil {
			return nil, err
		}
	}
	l, err := newLayout(opts, id)
	if err != nil {
		return nil, err
	}
	return &launch{ctx: ctx, opts: opts, svc: svc, d: d, id: id, l: l, log: opts.Log.With("container", id), t: newTimings()}, nil
}

// run cleans up what an earlier run of the container left, then runs ps.
func (s *launch) run(ps []phase) error {
	if err := cleanup(s.ctx, s.opts, s.id, s.d); err != nil {
		s.log.Warn("cleaning leftovers of an earlier run", "err", err)
	}
	s.t.mark("cleanup")
	return runPhases(ps, &s.undo, s.t, s.log)
}

// launch is one start of a container in progress: what its phases share.
type launch struct {
	ctx  context.Context
	opts Options
	svc  *model.Service
	d    deps
	id   string
	l    layout
	log  *slog.Logger
	t    *timings
	undo undoStack

	img         *imageInfo
	stor        *storage
	netc        *network.Container
	unit        string // the unit's cgroup, see unitCgroup
	spec        *specs.Spec
	proxy       *notifyProxy // nil unless the container reports READY=1 itself
	listenFiles []*os.File
	listenEnv   []string
	config      *configs.Config
	container   *libcontainer.Container
	proc        *libcontainer.Process
	pid         int
	ended       bool // the container exited before its hand-over
}

// phases are the steps of a start, in order. A oneshot's start (d.wait)
// ends by waiting for the container to exit instead of handing it over.
func (s *launch) phases() []phase {
	ps := []phase{
		{"image", s.pullImage},
		{"rootfs", s.mountRootfs},
		{"storage", s.makeStorage},
		{"network", s.attachNetwork},
		{"spec", s.buildConfig},
		{"create", s.create},
		{"start", s.startProcess},
	}
	if s.d.wait {
		return append(ps, phase{"wait", s.waitExit})
	}
	return append(ps, phase{"exec", s.awaitExec}, phase{"hand-over", s.handOver})
}

// pullImage makes the image present as its pull_policy says.
func (s *launch) pullImage() error {
	img, err := s.d.ensure(s.ctx, s.opts, s.svc.Image, s.svc.PullPolicy)
	if err != nil {
		var pe *image.PullError
		if errors.As(err, &pe) {
			return err // it already says what it was pulling
		}
		return fmt.Errorf("pulling %s: %w", s.svc.Image, err)
	}
	s.img = img
	return nil
}

// mountRootfs makes the container's dirs and mounts the image's layers
// under a fresh upper dir as its "/".
func (s *launch) mountRootfs() error {
	l := s.l
	s.undo.push("dirs", func() error { return errors.Join(removeDir(l.runDir), removeDir(l.stateDir)) })
	// The state dirs stay 0700; image.Mount gives the upper dir, the
	// container's "/", the image's owner and mode for "/".
	for _, dir := range []string{l.stateDir, l.runDir, l.libcontainer} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	s.undo.push("rootfs", func() error { return unmountRootfs(l.rootfs, s.d.unmount) })
	if err := s.d.mount(l.rootfs, l.upper, l.work, s.img.Layers); err != nil {
		return fmt.Errorf("mounting rootfs of %s: %w", s.svc.Image, err)
	}
	return nil
}

// makeStorage prepares the host side of the service's mounts and files.
func (s *launch) makeStorage() error {
	if s.svc.Tty {
		// A terminal needs a pty master held open for the container's whole
		// life, i.e. a resident process, and the journal wants lines, not a
		// terminal; the container keeps the journal as stdout/stderr.
		s.log.Warn("tty: true is ignored: the container's output goes to the journal without a terminal")
	}
	stor, err := prepareStorage(s.opts, s.l, s.svc, s.l.rootfs)
	if err != nil {
		return err
	}
	s.stor = stor
	// Until the container runs, its new volumes hold only the image's copy.
	s.undo.push("volumes", func() error { stor.removeCreated(s.opts.StateDir); return nil })
	return nil
}

// attachNetwork gives the container its network namespace and addresses.
func (s *launch) attachNetwork() error {
	// A CNI DEL also undoes an ADD that failed half-way.
	s.undo.push("network", func() error { return teardownNetwork(context.WithoutCancel(s.ctx), s.opts, s.id) })
	netc, err := setupNetwork(s.ctx, s.opts, s.l.runDir, s.svc)
	if err != nil {
		return fmt.Errorf("setting up the network: %w", err)
	}
	s.netc = netc
	return nil
}

// buildConfig builds the OCI spec and libcontainer's config from it.
func (s *launch) buildConfig() error {
	unit, err := unitCgroup()
	if err != nil {
		return err
	}
	s.unit = unit
	in := specInput{svc: s.svc, img: s.img, rootfs: s.l.rootfs, cgroupsPath: containerCgroup(unit, s.id), storage: s.stor}
	if s.svc.Init {
		if in.init, err = findInit(); err != nil {
			return err
		}
		s.log.Debug("init for PID 1", "binary", in.init.path)
	}
	spec, err := buildSpec(in)
	if err != nil {
		return fmt.Errorf("building container config: %w", err)
	}
	applyNetwork(spec, s.netc)
	if err := joinPod(spec, s.opts.RunDir, s.svc); err != nil {
		return err
	}
	if err := setRuntimeEnv(spec, s.opts.RunDir, s.svc); err != nil {
		return err
	}
	if s.svc.Notify == model.NotifyContainer && !s.d.wait {
		proxy, err := newNotifyProxy(s.l)
		if err != nil {
			return err
		}
		s.undo.push("notify socket", func() error { proxy.close(); return nil })
		proxy.addToSpec(spec)
		s.proxy = proxy
	}
	if s.listenFiles, s.listenEnv, err = inheritedSockets(s.svc); err != nil {
		return err
	}
	s.config, err = specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName: s.id,
		Spec:       spec,
	})
	if err != nil {
		return fmt.Errorf("converting container config: %w", err)
	}
	s.spec = spec
	return nil
}

// create moves the launcher out of the way of the container's cgroup and
// creates the container in libcontainer, not yet running.
func (s *launch) create() error {
	s.undo.push("cgroups", func() error { return removeCgroups(s.unit, s.id) })
	if _, err := enterLauncherLeaf(s.unit); err != nil {
		return err
	}
	s.undo.push("container", func() error { return destroyContainer(context.WithoutCancel(s.ctx), s.l, s.id) })
	c, err := createContainer(s.l.libcontainer, s.id, s.config)
	if err != nil {
		return fmt.Errorf("creating container: %w", err)
	}
	s.container = c
	p := s.spec.Process
	proc := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		Cwd:             p.Cwd,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Stdout:          s.d.stdout,
		Stderr:          s.d.stderr,
		Capabilities:    s.config.Capabilities,
		NoNewPrivileges: &p.NoNewPrivileges,
		Init:            true,
		// Sockets systemd passed for a socket-activated service: fds 3..
		// in the container, announced by LISTEN_* in its environment.
		ExtraFiles: s.listenFiles,
	}
	proc.Env = append(slices.Clone(proc.Env), s.listenEnv...)
	if s.svc.Accepts() && len(s.listenFiles) == 1 {
		// Accept=yes: the one fd is the connection, which inetd-style
		// programs (httpd -i) read and write as stdin and stdout; stderr
		// stays the journal.
		proc.Stdin, proc.Stdout = s.listenFiles[0], s.listenFiles[0]
	}
	for _, g := range p.User.AdditionalGids {
		proc.AdditionalGroups = append(proc.AdditionalGroups, int(g))
	}
	if proc.Rlimits, err = processRlimits(p.Rlimits); err != nil {
		return err
	}
	s.proc = proc
	return nil
}

// startProcess runs the container's PID 1.
func (s *launch) startProcess() error {
	if err := s.container.Run(s.proc); err != nil {
		return fmt.Errorf("starting container: %w", err)
	}
	// The container may have written to its new volumes: they stay.
	s.undo.keep("volumes")
	if s.svc.Accepts() {
		// The container has its own copies of the connection; ours would
		// keep it open past the container's end, until cleanup is done.
		for _, f := range s.listenFiles {
			_ = f.Close()
		}
	}
	pid, err := s.proc.Pid()
	if err != nil {
		return fmt.Errorf("reading container pid: %w", err)
	}
	s.pid = pid
	return nil
}

// waitExit is a oneshot's end: it stays the container's parent until it exits.
func (s *launch) waitExit() error {
	return runToCompletion(s.ctx, s.opts, s.svc, s.id, s.l, s.proc, s.pid, s.img.Digest, s.d)
}

// awaitExec waits until PID 1 runs the service's program.
func (s *launch) awaitExec() error {
	err := waitExec(s.ctx, s.pid, 5*time.Second)
	if errors.Is(err, errEnded) {
		s.ended = true
		return nil
	}
	return err
}

// handOver records the container for systemd and berth's status commands,
// waits for the service's readiness and tells systemd.
func (s *launch) handOver() error {
	svc, img, pid, proc, log := s.svc, s.img, s.pid, s.proc, s.log
	if s.ended || zombie(pid) {
		// Nothing to hand over (systemd refuses a MAINPID= that has
		// exited): the launcher stays the main process, is ready, and
		// exits with the container's status.
		if err := notifyReady(os.Getenv("NOTIFY_SOCKET"), os.Getpid()); err != nil {
			return fmt.Errorf("notifying systemd: %w", err)
		}
		return s.waitExit()
	}
	st := &State{ID: s.id, Pid: pid, Image: svc.Image, Digest: img.Digest, Started: time.Now().UTC(),
		User: &User{UID: proc.UID, GID: proc.GID, Groups: proc.AdditionalGroups}, StopSignal: effectiveStopSignal(svc.StopSignal, img.Config.StopSignal)}
	if err := writeState(s.l.stateFile, st); err != nil {
		return err
	}
	// systemd reads the main PID from here once berth run has exited: by
	// then the container has been reparented to systemd, so systemd treats
	// it as its own child and stops it with KillSignal, then SIGKILL after
	// TimeoutStopSec. A MAINPID= handed over while berth run was still the
	// parent made it an "alien" main PID, which systemd SIGKILLs at once.
	if err := writeFileAtomic(s.l.pidFile, []byte(fmt.Sprintf("%d\n", pid))); err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	log.Info("container started", "pid", pid, "image", svc.Image, "digest", img.Digest, "took", s.t.String())

	switch svc.Notify {
	case model.NotifyContainer:
		if err := s.proxy.waitReady(s.ctx, pid, log); err != nil {
			return err
		}
		// The unit has NotifyAccess=all for the container's later
		// messages; the launcher sends nothing itself (a MAINPID= from it
		// would make the container an "alien" main PID).
		s.proxy.handOver(os.Getenv("NOTIFY_SOCKET"), log)
		log.Info("container is ready", "by", "READY=1", "took", s.t.String())
		return nil
	case model.NotifyHealthy:
		if err := waitHealthy(s.ctx, s.opts, svc); err != nil {
			return err
		}
		log.Info("container is ready", "by", "first passing health check", "took", s.t.String())
	}
	if err := notifyReady(os.Getenv("NOTIFY_SOCKET"), pid); err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	return nil
}

// errEnded is waitExec finding the container's process already exited (a
// command such as echo): its cmdline then reads empty, as in an execve.
var errEnded = errors.New("the container's process has already exited")

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
		if err == nil && len(b) == 0 && zombie(pid) {
			return errEnded
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("container process %d did not exec its command within %v", pid, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// zombie tells whether pid has exited and waits to be reaped; its cmdline
// then reads empty, as in the middle of an execve.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// hold any character.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
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

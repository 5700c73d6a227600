package runtime

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose/model"
)

// ExitError is the non-zero exit status of a container run to completion;
// `berth run --wait` exits with Code, so a oneshot unit fails exactly when
// its container did.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("container exited with status %d", e.Code) }

// RunToCompletion starts svc's container like Run, then stays its parent
// until it exits, cleans up, and returns nil for exit status 0 and an
// *ExitError otherwise. Cancelling ctx (the unit is stopped: SIGTERM to
// berth) forwards the service's stop signal to the container. This is a
// oneshot unit's ExecStart: its start job, and so the ordering of
// service_completed_successfully dependents, ends with the container.
func RunToCompletion(ctx context.Context, opts Options, svc *model.Service) error {
	d := defaultDeps()
	d.wait = true
	return run(ctx, opts, svc, d)
}

func runToCompletion(ctx context.Context, opts Options, svc *model.Service, id string, l layout, proc *libcontainer.Process, pid int, digest string, d deps) error {
	log := opts.Log.With("container", id)
	st := &State{ID: id, Pid: pid, Image: svc.Image, Digest: digest, Started: time.Now().UTC()}
	if err := writeState(l.stateFile, st); err != nil {
		return err
	}
	log.Info("container started; waiting for it to exit", "pid", pid, "image", svc.Image)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sig := unix.SignalNum(stopSignalName(svc.StopSignal))
			if sig == 0 {
				sig = unix.SIGTERM
			}
			_ = proc.Signal(sig)
		case <-done:
		}
	}()
	ps, err := proc.Wait()
	close(done)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return fmt.Errorf("waiting for the container: %w", err)
	}
	code := ps.ExitCode()
	if code < 0 {
		if ws, ok := ps.Sys().(unix.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	if err := cleanup(context.WithoutCancel(ctx), opts, id, d); err != nil {
		log.Warn("cleaning up after the container exited", "err", err)
	}
	log.Info("container exited", "status", code)
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

func stopSignalName(s string) string {
	if s == "" {
		return "SIGTERM"
	}
	if len(s) < 3 || s[:3] != "SIG" {
		return "SIG" + s
	}
	return s
}

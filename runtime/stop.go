package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// StopMain stops a unit's main process (the container's PID 1) as docker
// stop does: sig, then SIGKILL once grace has passed. It returns once the
// process is gone (or a zombie for systemd to reap). The unit's ExecStop=
// runs it, so the grace period is berth's own and TimeoutStopSec= can give
// ExecStopPost= (berth cleanup) a budget of its own; systemd kills
// ExecStopPost= when TimeoutStopSec= runs out. A pid of 0 (no main
// process) is not an error.
func StopMain(ctx context.Context, pid int, sig unix.Signal, grace time.Duration) error {
	if pid <= 0 {
		return nil
	}
	if err := unix.Kill(pid, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("sending %v to %d: %w", unix.SignalName(sig), pid, err)
	}
	if waitGone(ctx, pid, grace) {
		return nil
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("killing %d after the %v grace period: %w", pid, grace, err)
	}
	if !waitGone(context.WithoutCancel(ctx), pid, 10*time.Second) {
		return fmt.Errorf("process %d still runs 10s after SIGKILL", pid)
	}
	return nil
}

// waitGone polls until pid has exited (gone or a zombie) or limit passed.
func waitGone(ctx context.Context, pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		if !alive(pid) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

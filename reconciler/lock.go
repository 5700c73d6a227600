package reconciler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Lock takes the state dir's reconcile lock, so the agent and a `berth
// apply` run by hand never act on the same units at once. It waits until the
// lock is free or ctx ends; waiting is called once if the lock is busy. The
// lock is released by the returned func, and by the kernel if the process
// dies.
func Lock(ctx context.Context, stateDir string, waiting func()) (unlock func(), err error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("taking the reconcile lock: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(stateDir, "reconcile.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("taking the reconcile lock: %w", err)
	}
	told := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != unix.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("taking the reconcile lock: %w", err)
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the reconcile lock: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

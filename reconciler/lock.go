package reconciler

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/berth-dev/berth/runtime/paths"
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
	path := paths.New("", stateDir, "").ReconcileLock()
	unlock, err = paths.TryLock(path, paths.Exclusive)
	if errors.Is(err, paths.ErrLocked) {
		if waiting != nil {
			waiting()
		}
		unlock, err = paths.Lock(ctx, path, paths.Exclusive)
		if err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("waiting for the reconcile lock: %w", ctx.Err())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("taking the reconcile lock: %w", err)
	}
	return unlock, nil
}

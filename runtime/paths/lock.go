package paths

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// LockMode is the kind of lock: many Shared holders, or one Exclusive. Its
// values are flock(2)'s LOCK_SH and LOCK_EX.
type LockMode int

const (
	Exclusive LockMode = unix.LOCK_EX
	Shared    LockMode = unix.LOCK_SH
)

// ErrLocked is TryLock's error when another holder has the lock.
var ErrLocked = errors.New("held by another process")

// Lock takes an flock(2) lock on path, creating the file (0600), and
// returns the function that releases it. flock locks belong to the open
// file, so they exclude other goroutines of this process as well as other
// berth processes, and the kernel drops them when a holder dies. It waits
// until the lock is free; a ctx that can end is polled, so waiting stops
// with ctx.
func Lock(ctx context.Context, path string, mode LockMode) (unlock func(), err error) {
	f, err := openLock(path)
	if err != nil {
		return nil, err
	}
	if ctx.Done() == nil { // nothing can cancel: block in the kernel
		for {
			err := unix.Flock(int(f.Fd()), int(mode))
			if err == nil {
				return func() { f.Close() }, nil
			}
			if !errors.Is(err, unix.EINTR) {
				f.Close()
				return nil, fmt.Errorf("locking %s: %w", path, err)
			}
		}
	}
	for {
		err := tryFlock(f, mode)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, ErrLocked) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// TryLock is Lock without waiting: it fails with an error wrapping
// [ErrLocked] while another holder has the lock.
func TryLock(path string, mode LockMode) (unlock func(), err error) {
	f, err := openLock(path)
	if err != nil {
		return nil, err
	}
	if err := tryFlock(f, mode); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

func openLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	return f, nil
}

func tryFlock(f *os.File, mode LockMode) error {
	err := unix.Flock(int(f.Fd()), int(mode)|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EINTR) {
		return ErrLocked
	}
	return err
}

package paths

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestWriteFileNoPartial: readers racing with writers only ever see one
// whole version, the mode is the one asked for, and no temp file stays.
func TestWriteFileNoPartial(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	a, b := bytes.Repeat([]byte("a"), 1<<20), bytes.Repeat([]byte("b"), 1<<19)
	if err := WriteFile(path, a, 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 2 { // two writers: each must use its own temp file
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				data := a
				if (i+j)%2 == 1 {
					data = b
				}
				if err := WriteFile(path, data, 0o640); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
			t.Fatalf("read a partial file of %d bytes", len(got))
		}
	}
	close(stop)
	wg.Wait()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, %v; want 0640", fi.Mode(), err)
	}
	if des, _ := os.ReadDir(dir); len(des) != 1 {
		t.Errorf("dir holds %d entries, want only state.json", len(des))
	}
}

// TestWriteFileError: a failed write names the file and leaves nothing.
func TestWriteFileError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "is-a-dir")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("x"), 0o600); err == nil {
		t.Fatal("replacing a non-empty dir: no error")
	}
	if des, _ := os.ReadDir(dir); len(des) != 1 {
		t.Errorf("a failed write left %d entries, want 1", len(des))
	}
}

// TestLock: while one holder has an exclusive lock, TryLock fails with
// ErrLocked, shared locks exclude an exclusive one but not each other, and
// Lock waits until release or until ctx ends.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := Lock(context.Background(), path, Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(path, Exclusive); !errors.Is(err, ErrLocked) {
		t.Fatalf("second TryLock while held: %v, want ErrLocked", err)
	}
	if _, err := TryLock(path, Shared); !errors.Is(err, ErrLocked) {
		t.Fatalf("shared TryLock while exclusively held: %v, want ErrLocked", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, path, Exclusive); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while held: %v, want the deadline", err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := Lock(context.Background(), path, Exclusive)
		if err == nil {
			u()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-got:
		t.Fatalf("blocking Lock returned while held: %v", err)
	default:
	}
	unlock()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	s1, err := TryLock(path, Shared)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := TryLock(path, Shared)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if _, err := TryLock(path, Exclusive); !errors.Is(err, ErrLocked) {
		t.Fatalf("exclusive while shared: %v", err)
	}
	s1()
	s2()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %v, %v; want 0600", fi.Mode(), err)
	}
}

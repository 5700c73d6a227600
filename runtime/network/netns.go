package network

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// CreateNetns makes a new network namespace with loopback up and pins it
// by bind-mounting it on path, so it outlives every process in it and
// others can join it by path. On error nothing is left behind.
func CreateNetns(path string) (retErr error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o600)
	if err != nil {
		return fmt.Errorf("creating netns pin %s: %w", path, err)
	}
	f.Close()
	defer func() {
		if retErr != nil {
			_ = RemoveNetns(path)
		}
	}()
	errc := make(chan error, 1)
	go func() {
		// The thread switches namespace and is never unlocked: Go ends it
		// with this goroutine, so no other goroutine runs in the new netns.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unsharing the network namespace: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("pinning the network namespace on %s: %w", path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		return err
	}
	return loopbackUp(path)
}

// loopbackUp sets lo up in the namespace pinned at path.
func loopbackUp(path string) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("opening netns %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in netns %s: %w", path, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding lo in netns %s: %w", path, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("setting lo up in netns %s: %w", path, err)
	}
	return nil
}

// RemoveNetns unpins the namespace at path (it disappears with its last
// process) and removes the pin file. A missing pin is not an error.
func RemoveNetns(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing netns pin %s: %w", path, err)
	}
	return nil
}

// isNetns reports whether path is a network namespace (a pin or a
// /proc/PID/ns/net link), not just a leftover pin file.
func isNetns(path string) bool {
	var st unix.Statfs_t
	if path == "" || unix.Statfs(path, &st) != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC || st.Type == unix.PROC_SUPER_MAGIC
}

// scratchNetns pins a new, empty network namespace for a DEL whose own
// namespace is gone; done unpins it.
func (p Paths) scratchNetns() (path string, done func(), err error) {
	path = filepath.Join(p.NetnsDir(), ".scratch-"+rand.Text())
	if err := CreateNetns(path); err != nil {
		return "", nil, fmt.Errorf("creating a scratch network namespace: %w", err)
	}
	return path, func() { _ = RemoveNetns(path) }, nil
}

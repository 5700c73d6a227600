package runtime

import (
	"context"
	"fmt"
	"io"
	"os"
	goruntime "runtime"

	"github.com/moby/go-archive"
	"golang.org/x/sys/unix"
)

// CopyRequest is one `docker cp` between the host and a running container.
type CopyRequest struct {
	// Container is the path inside the container; Host the path on the
	// host, "-" for a tar stream on Stdin (to the container) or Stdout
	// (from it).
	Container, Host string
	// KeepOwner keeps the source's uid/gid (docker cp -a); otherwise
	// what lands in the container belongs to its root, and what lands on
	// the host to the caller.
	KeepOwner bool
	// FollowLink copies what a source symlink points to (docker cp -L).
	FollowLink bool
	Stdin      io.Reader
	Stdout     io.Writer
}

// CopyFromContainer copies req.Container out of container id to req.Host,
// with docker cp's rules for files, directories and existing targets.
// Paths inside the container are resolved in its own mount namespace, so
// its volumes are seen and no symlink leads out of its root.
func CopyFromContainer(ctx context.Context, opts Options, id string, req CopyRequest) error {
	pid, err := runningPid(opts, id)
	if err != nil {
		return err
	}
	var info archive.CopyInfo
	var content io.ReadCloser
	started := make(chan error, 1)
	done := inMountNS(pid, func() error {
		var err error
		info, err = archive.CopyInfoSourcePath(req.Container, req.FollowLink)
		if err != nil {
			started <- err
			return nil
		}
		dir, base := archive.SplitPathDirEntry(info.Path)
		tb, err := archive.NewTarballer(dir, archive.TarResourceRebaseOpts(base, info.RebaseName))
		if err != nil {
			started <- err
			return nil
		}
		content = tb.Reader()
		started <- nil
		tb.Do() // writes the stream from inside the container's root
		return nil
	})
	select {
	case err = <-started:
	case err = <-done:
		if err == nil { // fn always reports on started first
			err = <-started
		}
	}
	if err != nil {
		return fmt.Errorf("copying %s out of the container: %w", req.Container, err)
	}
	defer content.Close()
	if req.Host == "-" {
		_, err = io.Copy(req.Stdout, content)
		return err
	}
	if err := archive.CopyTo(content, info, req.Host); err != nil {
		return fmt.Errorf("copying to %s: %w", req.Host, err)
	}
	return nil
}

// CopyToContainer copies req.Host (or the tar stream on req.Stdin) into
// container id at req.Container. Extraction runs in the container's mount
// namespace: an absolute symlink in the container resolves inside it.
func CopyToContainer(ctx context.Context, opts Options, id string, req CopyRequest) error {
	pid, err := runningPid(opts, id)
	if err != nil {
		return err
	}
	var info archive.CopyInfo
	var content io.ReadCloser
	if req.Host == "-" {
		info = archive.CopyInfo{IsDir: true}
		content = io.NopCloser(req.Stdin)
	} else {
		if info, err = archive.CopyInfoSourcePath(req.Host, req.FollowLink); err != nil {
			return err
		}
		if content, err = archive.TarResource(info); err != nil {
			return err
		}
	}
	defer content.Close()
	topts := &archive.TarOptions{NoOverwriteDirNonDir: true}
	if !req.KeepOwner {
		topts.ChownOpts = &archive.ChownOpts{UID: 0, GID: 0}
	}
	// /proc/self/fd as the host sees it: inside the container, /proc is
	// the container's and knows nothing of berth.
	topts, closeFD, err := archive.WithProcSelfFD(topts)
	if err != nil {
		return err
	}
	defer closeFD()
	err = <-inMountNS(pid, func() error {
		if req.Host == "-" {
			return archive.Unpack(content, req.Container, topts)
		}
		dst, err := archive.CopyInfoDestinationPath(req.Container)
		if err != nil {
			return err
		}
		dir, prepared, err := archive.PrepareArchiveCopy(content, info, dst)
		if err != nil {
			return err
		}
		defer prepared.Close()
		return archive.Unpack(prepared, dir, topts)
	})
	if err != nil {
		return fmt.Errorf("copying into %s in the container: %w", req.Container, err)
	}
	return nil
}

func runningPid(opts Options, id string) (int, error) {
	opts = opts.withDefaults()
	st, err := ReadState(opts.RunDir, id)
	if err != nil || !alive(st.Pid) {
		return 0, ErrNotRunning
	}
	return st.Pid, nil
}

// inMountNS runs fn on a thread of its own that has joined the mount
// namespace of pid (its root and working directory become the
// container's root). The thread is never returned to Go's scheduler:
// it exits with the goroutine.
func inMountNS(pid int, fn func() error) <-chan error {
	errc := make(chan error, 1)
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		errc <- fmt.Errorf("opening the container's mount namespace: %w", err)
		return errc
	}
	go func() {
		defer ns.Close()
		goruntime.LockOSThread() // never unlocked: the thread's fs state is changed
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unsharing the thread's filesystem state: %w", err)
			return
		}
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("joining the container's mount namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return errc
}

// Package e2e is berth's integration-test harness: a real systemd booted as
// PID 1 of its own namespaces (sandbox.go), Debian's docker-registry on
// loopback (registry.go) and busybox test images built in-process
// (image.go). The helpers live in non-test files so benchmarks and small
// commands can import them too.
package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// WorkBase is where WorkDir creates its directories. It is outside /tmp,
// /var/tmp and /run on purpose: the sandbox mounts private tmpfs there, so
// files under those paths on the host are invisible inside it.
const WorkBase = "/var/lib/berth-e2e"

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// WorkDir returns a fresh, empty directory (mode 0700) under WorkBase that
// the host and every sandbox see at the same path. It is removed when the
// test ends.
func WorkDir(t testing.TB) string {
	t.Helper()
	if err := os.MkdirAll(WorkBase, 0o700); err != nil {
		t.Fatalf("creating %s: %v", WorkBase, err)
	}
	prefix := unsafeName.ReplaceAllString(t.Name(), "_")
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	dir, err := os.MkdirTemp(WorkBase, prefix+"-")
	if err != nil {
		t.Fatalf("creating a work dir: %v", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatalf("chmod %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing work dir %s: %v", dir, err)
		}
	})
	return filepath.Clean(dir)
}

// requireRoot fails the test (never skips it) when not run as root: the
// harness mounts, creates namespaces and cgroups.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("this test needs root (mounts, namespaces, cgroups); run it with sudo -E go test ...")
	}
}

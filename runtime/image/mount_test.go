package image

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// mountImage mounts img's layers at a fresh target and unmounts at cleanup.
func mountImage(t *testing.T, layers []string) string {
	t.Helper()
	dir := t.TempDir()
	target := filepath.Join(dir, "rootfs")
	if err := Mount(target, filepath.Join(dir, "upper"), filepath.Join(dir, "work"), layers); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Unmount(target); err != nil {
			t.Error(err)
		}
	})
	return target
}

func TestMountedRootfsRunsBusybox(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	reg := newTestRegistry(t)
	ref := reg.push(t, "bb:latest", hostImage(t, busyboxLayer(t), layer(t, entry{name: "etc/motd", body: "hi\n"})))
	s := newStore(t, t.TempDir())
	img, err := s.Pull(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	target := mountImage(t, img.Layers)

	if fi, err := os.Stat(filepath.Join(target, "bin", "busybox")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("/bin/busybox in mounted rootfs: %v, %v", fi, err)
	}
	// Run the image's busybox chrooted in the mount: proves the stack is a usable rootfs
	// and that writes land in the upper dir, not in the shared layers.
	cmd := exec.Command("/bin/sh", "-c", "busybox cat /etc/motd && echo new > /etc/written")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: target}
	cmd.Env = []string{"PATH=/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "hi\n" {
		t.Fatalf("busybox in rootfs: %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(target), "upper", "etc", "written")); err != nil {
		t.Errorf("write did not reach the upper dir: %v", err)
	}
	for _, l := range img.Layers {
		if _, err := os.Stat(filepath.Join(l, "etc", "written")); err == nil {
			t.Errorf("write leaked into shared layer %s", l)
		}
	}

	// A non-root container user can still read the layers, although the store is 0700.
	cmd = exec.Command("/bin/busybox", "cat", "/etc/motd")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: target, Credential: &syscall.Credential{Uid: 1000, Gid: 1000}}
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "hi\n" {
		t.Errorf("busybox as uid 1000 in rootfs: %q, %v", out, err)
	}

	if err := Unmount(target); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(target, "bin", "busybox")); !os.IsNotExist(err) {
		t.Errorf("after Unmount /bin/busybox still visible: %v", err)
	}
	if err := Unmount(target); err != nil {
		t.Errorf("second Unmount: %v", err)
	}
	if err := Unmount(filepath.Join(target, "does-not-exist")); err != nil {
		t.Errorf("Unmount of a missing path: %v", err)
	}
}

func TestWhiteoutsHideLowerFiles(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	reg := newTestRegistry(t)
	base := layer(t,
		entry{name: "etc/", dir: true},
		entry{name: "etc/gone", body: "old"},
		entry{name: "etc/kept", body: "kept"},
		entry{name: "data/", dir: true},
		entry{name: "data/old-a", body: "a"},
		entry{name: "data/old-b", body: "b"},
	)
	deleting := layer(t,
		entry{name: "etc/.wh.gone", body: ""},
		entry{name: "data/", dir: true},
		entry{name: "data/.wh..wh..opq", body: ""},
		entry{name: "data/new", body: "n"},
	)
	ref := reg.push(t, "wh:latest", hostImage(t, busyboxLayer(t), base, deleting))
	s := newStore(t, t.TempDir())
	img, err := s.Pull(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}

	// On disk the whiteout is overlay's char 0/0 device, the opaque dir an xattr.
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(img.Layers[2], "etc", "gone"), &st); err != nil {
		t.Fatalf("no overlay whiteout in layer: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/gone in top layer: mode %o rdev %d, want char device 0/0", st.Mode, st.Rdev)
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(img.Layers[2], "data"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("data/ in top layer not opaque: %q, %v", buf[:n], err)
	}
	if _, err := os.Stat(filepath.Join(img.Layers[2], "etc", ".wh.gone")); !os.IsNotExist(err) {
		t.Errorf(".wh. file left in layer: %v", err)
	}

	target := mountImage(t, img.Layers)
	if _, err := os.Lstat(filepath.Join(target, "etc", "gone")); !os.IsNotExist(err) {
		t.Errorf("deleted file still visible through the mount: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "etc", "kept")); err != nil || string(b) != "kept" {
		t.Errorf("etc/kept = %q, %v", b, err)
	}
	ents, err := os.ReadDir(filepath.Join(target, "data"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"new"}) {
		t.Errorf("opaque data/ shows %v, want [new]", names)
	}
}

func TestMountRejectsOverlongOptions(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("x", 200))
	layers := slices.Repeat([]string{long}, 30)
	err := Mount(filepath.Join(dir, "t"), filepath.Join(dir, "u"), filepath.Join(dir, "w"), layers)
	if err == nil || !strings.Contains(err.Error(), "exceeds one page") {
		t.Errorf("Mount with 6 kB of lowerdirs = %v, want a page-limit error", err)
	}
}

// TestMountRootTakesImageMode: the container's "/" is the upper dir; made
// 0700 beside 0700 state dirs, it must still take the image's owner and
// mode, or a non-root user cannot list "/" or run a program.
func TestMountRootTakesImageMode(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	lower := filepath.Join(dir, "l", "a")
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(lower, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lower, "bin", "busybox"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(lower, 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	upper := filepath.Join(state, "upper")
	if err := os.MkdirAll(upper, 0o700); err != nil { // as earlier versions made it
		t.Fatal(err)
	}
	target := filepath.Join(dir, "rootfs")
	if err := Mount(target, upper, filepath.Join(state, "work"), []string{lower}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Unmount(target) })

	var st unix.Stat_t
	if err := unix.Stat(target, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o7777 != 0o755 || st.Uid != 0 {
		t.Errorf("container's / has mode %o uid %d, want the image's 755 uid 0", st.Mode&0o7777, st.Uid)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir above the upper dir: %v, %v; want it left 0700", fi, err)
	}
	cmd := exec.Command("/bin/busybox", "ls", "/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: target, Credential: &syscall.Credential{Uid: 1000, Gid: 1000}}
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "bin") {
		t.Errorf("ls / as uid 1000: %q, %v", out, err)
	}
}

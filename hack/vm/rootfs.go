package vm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// basePackages are what the VM has beyond minbase before the README's
// commands run: a kernel, systemd as init and make to run the Makefile.
// Everything else must come from the Makefile's DEB_PACKAGES.
var basePackages = []string{"linux-image-amd64", "systemd-sysv", "make"}

// makePackages reads DEB_PACKAGES from the Makefile, the single source of
// truth for what berth needs on a host.
var debName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

func makePackages(ctx context.Context, repo string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "make", "-s", "--no-print-directory", "-C", repo, "deb-packages")
	// Under `make test` this is a sub-make: without this the parent's flags
	// make it print "Entering directory" lines among the packages.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "MAKEFLAGS=") || strings.HasPrefix(kv, "MFLAGS=") || strings.HasPrefix(kv, "MAKELEVEL=")
	})
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("make deb-packages: %w", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("make deb-packages printed no packages")
	}
	for _, p := range pkgs {
		if !debName.MatchString(p) {
			return nil, fmt.Errorf("make deb-packages printed %q, which is not a Debian package name", p)
		}
	}
	return pkgs, nil
}

// baseTarball returns a minbase rootfs tarball with pkgs installed, built
// by mmdebstrap from the host's apt sources and cached in dir under a name
// keyed by the release, the package list and the sources.
func baseTarball(ctx context.Context, dir, suite string, pkgs, sources []string, log io.Writer) (string, error) {
	pkgs = slices.Sorted(slices.Values(pkgs))
	h := sha256.New()
	fmt.Fprintln(h, suite, strings.Join(pkgs, ","))
	for _, s := range sources {
		b, err := os.ReadFile(s)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	path := filepath.Join(dir, "base-"+suite+"-"+hex.EncodeToString(h.Sum(nil))[:16]+".tar")
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		fmt.Fprintf(log, "vm: cached base rootfs %s\n", path)
		return path, nil
	}
	tmp := path + ".part"
	// --format: mmdebstrap guesses it from the name otherwise.
	args := append([]string{"--variant=minbase", "--format=tar", "--include=" + strings.Join(pkgs, ","), suite, tmp}, sources...)
	fmt.Fprintf(log, "vm: mmdebstrap %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+dir) // its chroot is large; not /tmp
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("mmdebstrap: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	// Tarballs of other package lists are stale: 1 GB each.
	old, _ := filepath.Glob(filepath.Join(dir, "base-*.tar"))
	for _, o := range old {
		if o != path {
			os.Remove(o)
		}
	}
	return path, nil
}

// extract unpacks the base tarball into a fresh root.
func extract(ctx context.Context, tarball, root string) error {
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "tar", "-C", root, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf", tarball).CombinedOutput()
	if err != nil {
		return fmt.Errorf("extracting %s: %w\n%s", tarball, err, out)
	}
	return nil
}

// copyTree copies src to dst with cp -a (ownership, modes, links kept).
func copyTree(ctx context.Context, src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "cp", "-a", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copying %s to %s: %w\n%s", src, dst, err, out)
	}
	return nil
}

// copyCheckout copies the files git knows of (tracked and untracked, not
// ignored) from repo to dst: what a user's checkout holds.
func copyCheckout(ctx context.Context, repo, dst string) error {
	out, err := exec.CommandContext(ctx, "git", "-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return fmt.Errorf("listing the checkout's files: %w", err)
	}
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(repo, rel)
		fi, err := os.Lstat(src)
		if err != nil {
			continue // deleted in the work tree
		}
		d := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, d); err != nil {
				return err
			}
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(d, b, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// chrootMounts are bind mounts made only for the chroot run: build caches
// kept by the harness between runs (the VM image does not carry them).
type chrootMount struct{ src, dst string }

// inChroot runs script with sh -e in root, inside a private mount
// namespace that also holds /proc, /sys, /dev and binds: all of it goes
// away with the process, on every path.
func inChroot(ctx context.Context, root, script string, binds []chrootMount, log io.Writer) error {
	var setup strings.Builder
	fmt.Fprintf(&setup, "set -e\nmount -t proc proc %[1]s/proc\nmount -t sysfs sys %[1]s/sys\nmount --rbind /dev %[1]s/dev\n", root)
	for _, b := range binds {
		dst := filepath.Join(root, b.dst)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		fmt.Fprintf(&setup, "mount --bind %s %s\n", b.src, dst)
	}
	fmt.Fprintf(&setup, "exec chroot %s /bin/sh -ec \"$1\"\n", root)
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", setup.String(), "sh", script)
	cmd.Env = []string{
		"PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive",
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("in the VM's rootfs (chroot): %w", err)
	}
	return nil
}

// packExt4 makes a sparse ext4 image of size from root.
func packExt4(ctx context.Context, root, image, size string) error {
	os.Remove(image)
	out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-L", "berth-vm", "-d", root, image, size).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mkfs.ext4 -d %s: %w\n%s", root, err, out)
	}
	return nil
}

// kernel finds the kernel and initrd that the rootfs's linux-image-amd64
// installed under /boot.
func kernel(root string) (vmlinuz, initrd string, err error) {
	k, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	i, _ := filepath.Glob(filepath.Join(root, "boot", "initrd.img-*"))
	if len(k) != 1 || len(i) != 1 {
		return "", "", fmt.Errorf("want one kernel and one initrd in %s/boot (linux-image-amd64), found %v and %v", root, k, i)
	}
	return k[0], i[0], nil
}

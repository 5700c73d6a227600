// Package vm boots a real Debian host under QEMU (TCG, no KVM needed) to
// prove berth where its users run it: pure cgroup v2, systemd as the real
// PID 1, and nothing installed beyond what the README's commands install.
//
// The flow: a minbase rootfs from mmdebstrap (cached, keyed by its package
// list) → berth installed in it with the README's commands, natively in a
// chroot → an ext4 image → QEMU boots it, the guest suite (hack/vm/guest)
// runs from a unit, reboots once and writes its results to a second disk →
// the results become this package's test results.
package vm

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// tools names each host program the harness execs and its Debian package.
var tools = []struct{ bin, pkg string }{
	{"qemu-system-x86_64", "qemu-system-x86"},
	{"mmdebstrap", "mmdebstrap"},
	{"mkfs.ext4", "e2fsprogs"},
	{"debugfs", "e2fsprogs"},
	{"unshare", "util-linux"},
	{"tar", "tar"},
}

// checkTools returns one error naming every missing program and the
// package that provides it.
func checkTools() error {
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t.bin); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", t.bin, t.pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the VM harness needs: %s", strings.Join(missing, ", "))
	}
	return nil
}

// aptSources returns the host's apt source files, which mmdebstrap reads
// as they are: the VM installs from the same mirrors as this machine.
func aptSources(etc string) ([]string, error) {
	var files []string
	for _, pat := range []string{"sources.list", "sources.list.d/*.list", "sources.list.d/*.sources"} {
		m, err := filepath.Glob(filepath.Join(etc, "apt", pat))
		if err != nil {
			return nil, err
		}
		for _, f := range m {
			if fi, err := os.Stat(f); err == nil && fi.Size() > 0 && hasDebianEntry(f) {
				files = append(files, f)
			}
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no apt sources with a Debian entry in %s/apt/sources.list{,.d}: the VM's rootfs is built from the host's mirrors", etc)
	}
	return files, nil
}

// hasDebianEntry reports whether an apt source file names a Debian archive
// (third-party repositories of the host are not the VM's business).
func hasDebianEntry(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.Contains(line, "debian-archive-keyring") || strings.Contains(line, "/debian") {
			return true
		}
	}
	return false
}

// codename reads VERSION_CODENAME from an os-release file: the VM runs the
// host's release.
func codename(osRelease string) (string, error) {
	b, err := os.ReadFile(osRelease)
	if err != nil {
		return "", fmt.Errorf("reading the host's release: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VERSION_CODENAME="); ok && v != "" {
			return strings.Trim(v, `"`), nil
		}
	}
	return "", errors.New("no VERSION_CODENAME in " + osRelease)
}

// goRoot is the Go toolchain copied into the VM, where this kind of
// machine ships it.
const goRoot = "/usr/local/go"

func checkGoRoot() error {
	if _, err := os.Stat(filepath.Join(goRoot, "bin", "go")); err != nil {
		return fmt.Errorf("the VM gets the Go toolchain from %s: %w", goRoot, err)
	}
	return nil
}

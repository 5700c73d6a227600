package vm

import (
	"context"
	"os"
	"path/filepath"
)

// guestDir is where the guest suite lives inside the VM.
const guestDir = "/usr/local/lib/berth-vm"

// chrootScript installs berth in the rootfs with the README's first
// command, minus `example`, which needs systemd running and so runs in the
// VM (as `make -o install example`). It also builds the guest suite.
const chrootScript = `
update-ca-certificates >/dev/null
systemd-machine-id-setup
cd /root/berth
make deps install bin/pushbusybox
go test -c -tags 'seccomp vmguest' -o ` + guestDir + `/guest.test ./hack/vm/guest
CGO_ENABLED=0 go build -o ` + guestDir + `/sdhelper ./hack/e2e/testdata/sdhelper
systemctl enable berth-vm-suite.service
`

// installGuest puts the suite's runner and unit into the rootfs, with the
// host's extra CA certificates (this workplace reaches the Go module proxy
// through them) and its resolver for the chroot's downloads.
func installGuest(ctx context.Context, repo, root string) error {
	files := map[string]string{
		filepath.Join(repo, "hack/vm/guest/run-suite.sh"):           filepath.Join(root, guestDir, "run-suite.sh"),
		filepath.Join(repo, "hack/vm/guest/berth-vm-suite.service"): filepath.Join(root, "etc/systemd/system/berth-vm-suite.service"),
		"/etc/resolv.conf": filepath.Join(root, "etc/resolv.conf"),
	}
	crts, _ := filepath.Glob("/usr/local/share/ca-certificates/*.crt")
	for _, c := range crts {
		files[c] = filepath.Join(root, c)
	}
	for src, dst := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		fi, err := os.Stat(src)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		os.Remove(dst) // resolv.conf may be a dangling symlink
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

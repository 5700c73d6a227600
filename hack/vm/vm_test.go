package vm

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// stateDir keeps the cached base tarballs and the Go caches between runs
// (outside /tmp: the e2e sandboxes mount their own /tmp).
func stateDir() string {
	if d := os.Getenv("BERTH_VM_DIR"); d != "" {
		return d
	}
	return "/var/cache/berth-vm"
}

// vmTimeout bounds one QEMU run (two boots and the guest suite).
const vmTimeout = 40 * time.Minute

// TestVM builds a fresh Debian rootfs with only the Makefile's packages,
// installs berth in it with the README's commands, boots it under QEMU on
// pure cgroup v2 with systemd as PID 1, runs hack/vm/guest there (across
// one real reboot) and reports the guest's tests as its own subtests.
// It fails, never skips, when anything it needs is missing.
func TestVM(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the VM harness needs root (mmdebstrap, chroot, mounts)")
	}
	if runtime.GOARCH != "amd64" {
		t.Fatalf("the VM harness boots x86_64 Debian; this is %s", runtime.GOARCH)
	}
	for _, check := range []func() error{checkTools, checkGoRoot} {
		if err := check(); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	state := stateDir()
	for _, d := range []string{state, filepath.Join(state, "gocache"), filepath.Join(state, "gomodcache")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	work := filepath.Join(state, "run")
	if err := os.RemoveAll(work); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(work, "build.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	fail := func(step string, err error) {
		t.Helper()
		t.Fatalf("%s: %v\nbuild log tail (%s):\n%s", step, err, logPath, tail(logPath, 40))
	}
	phase := func(name string, start time.Time) {
		t.Logf("%s took %s", name, time.Since(start).Round(100*time.Millisecond))
	}

	// 1. The base rootfs: minbase, a kernel, systemd and the Makefile's list.
	start := time.Now()
	sources, err := aptSources("/etc")
	if err != nil {
		t.Fatal(err)
	}
	suite, err := codename("/etc/os-release")
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := makePackages(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	tarball, err := baseTarball(ctx, state, suite, append(pkgs, basePackages...), sources, log)
	if err != nil {
		fail("building the base rootfs", err)
	}
	phase("base rootfs", start)

	// 2. berth installed as the README says, natively in a chroot.
	start = time.Now()
	root := filepath.Join(work, "rootfs")
	defer os.RemoveAll(root)
	if err := extract(ctx, tarball, root); err != nil {
		fail("extracting the rootfs", err)
	}
	if err := copyTree(ctx, goRoot, filepath.Join(root, goRoot)); err != nil {
		fail("copying Go", err)
	}
	if err := copyCheckout(ctx, repo, filepath.Join(root, "root/berth")); err != nil {
		fail("copying the checkout", err)
	}
	if err := installGuest(ctx, repo, root); err != nil {
		fail("installing the guest suite", err)
	}
	binds := []chrootMount{
		{filepath.Join(state, "gocache"), "/root/.cache/go-build"},
		{filepath.Join(state, "gomodcache"), "/root/go/pkg/mod"},
	}
	if err := inChroot(ctx, root, chrootScript, binds, log); err != nil {
		fail("installing berth with the README's commands", err)
	}
	vmlinuz, initrd, err := kernel(root)
	if err != nil {
		t.Fatal(err)
	}
	m := Machine{
		Kernel: filepath.Join(work, "vmlinuz"), Initrd: filepath.Join(work, "initrd.img"),
		Root: filepath.Join(work, "root.img"), Results: filepath.Join(work, "results.img"),
		Console: filepath.Join(work, "console.log"), CPUs: 2, MemoryMB: 4096,
	}
	for src, dst := range map[string]string{vmlinuz: m.Kernel, initrd: m.Initrd} {
		if err := copyTree(ctx, src, dst); err != nil {
			t.Fatal(err)
		}
	}
	if err := packExt4(ctx, root, m.Root, "12G"); err != nil {
		fail("packing the root disk", err)
	}
	os.RemoveAll(root)
	if err := newResultsDisk(ctx, m.Results); err != nil {
		t.Fatal(err)
	}
	phase("install and pack", start)

	// 3. Boot, run the guest suite across one reboot, power off.
	took, bootErr := m.Boot(ctx, vmTimeout)
	t.Logf("VM ran for %s (two boots and the guest suite, TCG)", took.Round(time.Second))
	res, err := readResults(ctx, m.Results, work)
	if err != nil {
		t.Fatalf("%v\n(boot: %v)\nconsole tail:\n%s", err, bootErr, tail(m.Console, 80))
	}
	if bootErr != nil {
		t.Error(bootErr)
	}
	for _, boot := range []string{"boot1", "boot2"} {
		if b, err := os.ReadFile(filepath.Join(res, boot+".time")); err == nil {
			t.Logf("%s: %s", boot, strings.TrimSpace(string(b)))
		}
		raw, err := os.ReadFile(filepath.Join(res, boot+".out"))
		if err != nil {
			t.Errorf("%s: the guest suite left no output: %v\nconsole tail:\n%s", boot, err, tail(m.Console, 80))
			continue
		}
		results, err := parseGuestOutput(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if len(results) == 0 {
			t.Errorf("%s: the guest ran no test:\n%s", boot, raw)
		}
		replay(t, results)
	}
	if t.Failed() {
		t.Logf("guest journals: %s/*.journal; console: %s", res, m.Console)
	}
}

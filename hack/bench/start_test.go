// Package bench measures berth against its baselines on the same machine in
// the same run: start latency of a container under systemd versus bare
// `runc run` and `podman run`. Run with `make bench`.
package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"

	"github.com/berth-dev/berth/units"
)

// BenchmarkStartLatency interleaves, per iteration, one start of each:
//   - berth:  `systemctl start` of a berth unit until it is active, i.e. the
//     container's command has been exec'd and MAINPID handed over;
//   - berth-cli: the same through `berth run` instead of berth-launcher
//     (how units ran containers before the launcher: the Compose loader's
//     package init paid by the launcher and again by libcontainer's init);
//   - runc:   `runc run --detach` of the same busybox rootfs;
//   - podman: `podman run --detach --rm` (Debian podman, runc runtime).
//
// Each container runs `sleep 600` and is torn down outside the timed part.
// Use -benchtime=20x (make bench does) for 20 samples of each.
func BenchmarkStartLatency(b *testing.B) {
	e := newBenchEnv(b, false)
	run := e.run
	ref := e.pushBusybox("busybox:latest")

	// berth: persistent units rendered by package units, started
	// repeatedly; berth-cli's unit runs the berth binary instead of the
	// launcher.
	state := filepath.Join(e.wd, "state")
	unit := func(name string, cfg units.Config) *units.Unit {
		svc := &model.Service{Project: "bench", Name: name, Image: ref, Command: []string{"sleep", "600"}}
		spec, err := paths.New("", state, "").SpecStore().Save(b.Context(), svc)
		if err != nil {
			b.Fatal(err)
		}
		u := units.Service(cfg, svc, spec)
		run("sh", "-c", fmt.Sprintf("cat > /run/systemd/system/%s <<'EOF'\n%sEOF\nsystemctl daemon-reload", u.Name, u.Text()))
		return u
	}
	u := unit("sleep", units.Config{Binary: e.bin, Launcher: filepath.Join(e.wd, "berth-launcher"), StateDir: state})
	uCLI := unit("sleepcli", units.Config{Binary: e.bin, StateDir: state})

	// runc: a bundle whose rootfs is the busybox binary and its applets.
	bundle := filepath.Join(e.wd, "bundle")
	makeBundle(b, bundle)

	// podman: the same image from the same registry.
	podman := []string{"--runtime", "runc", "--cgroup-manager", "cgroupfs"}
	run("podman", append(podman, "pull", "--tls-verify=false", "-q", ref)...)

	starts := map[string][]time.Duration{}
	timeIt := func(name string, start func(), stop func()) {
		t0 := time.Now()
		start()
		starts[name] = append(starts[name], time.Since(t0))
		stop()
	}
	startUnit := func(u *units.Unit) func() { return func() { run("systemctl", "start", u.Name) } }
	stopUnit := func(u *units.Unit) func() {
		return func() {
			// sleep as PID 1 ignores SIGTERM; skip the 10 s grace period.
			run("systemctl", "kill", "--signal=SIGKILL", u.Name)
			run("systemctl", "stop", u.Name)
			// Many starts in a row would hit systemd's start limit.
			run("systemctl", "reset-failed", u.Name)
		}
	}
	// Warm up: the first berth start pulls and unpacks the image.
	for _, w := range []*units.Unit{u, uCLI} {
		startUnit(w)()
		stopUnit(w)()
	}

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		timeIt("berth", startUnit(u), stopUnit(u))
		timeIt("berth-cli", startUnit(uCLI), stopUnit(uCLI))
		id := fmt.Sprintf("bench%d", i)
		timeIt("runc", func() { run("runc", "run", "--detach", "--bundle", bundle, id) },
			func() { run("runc", "delete", "--force", id) })
		timeIt("podman", func() {
			run("podman", append(podman, "run", "--detach", "--rm", "--name", id, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000", ref, "sleep", "600")...)
		}, func() { run("podman", append(podman, "rm", "--force", "--time", "0", id)...) })
	}
	b.StopTimer()

	med := map[string]time.Duration{}
	for _, name := range []string{"berth", "berth-cli", "runc", "podman"} {
		m, lo, hi := stats(starts[name])
		med[name] = m
		b.ReportMetric(float64(m.Microseconds())/1000, name+"-median-ms")
		b.Logf("%-9s median %v  p10 %v  p90 %v  (n=%d)", name, m, lo, hi, len(starts[name]))
	}
	if phases, err := e.sb.Command(e.ctx, "sh", "-c", "journalctl --no-pager -o cat -u "+u.Name+" | grep -o 'took=.*' | tail -3").Output(); err == nil {
		b.Logf("berth run phases (last starts):\n%s", phases)
	}
	b.ReportMetric(float64(med["berth"])/float64(med["runc"]), "berth/runc")
	b.ReportMetric(float64(med["berth-cli"])/float64(med["runc"]), "berth-cli/runc")
	b.ReportMetric(float64(med["podman"])/float64(med["berth"]), "podman/berth")
	b.Logf("berth/runc = %.2fx (target <= 1.2x), podman/berth = %.1fx (target >= 5x); through `berth run` instead of berth-launcher: %.2fx of runc",
		float64(med["berth"])/float64(med["runc"]), float64(med["podman"])/float64(med["berth"]), float64(med["berth-cli"])/float64(med["runc"]))
}

// makeBundle writes a runc bundle: `runc spec` defaults, busybox rootfs,
// `sleep 600`, no terminal.
func makeBundle(b *testing.B, dir string) {
	b.Helper()
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		b.Fatal(err)
	}
	script := `set -e
cp /bin/busybox rootfs/bin/busybox
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox rootfs/bin/$a; done
runc spec
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"sleep", "600"/' config.json`
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("making runc bundle: %v\n%s", err, out)
	}
}

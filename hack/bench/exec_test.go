package bench

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"
	"github.com/berth-dev/berth/units"
)

// BenchmarkExec times `berth exec bench/sleep true` against `nsenter -t
// <pid> -a true` into the same container and `podman exec` into a podman
// container of the same image, interleaved, one of each per iteration.
// "berth" hands over to berth-launcher, installed next to it, so the
// container's init is the launcher's binary; "berth-solo" is a copy of
// berth alone in a directory, which runs the exec (and init) itself.
// Each is started from outside the sandbox through nsenter, so every
// figure includes that entry; the "enter" baseline (`true` run the same
// way) is reported and subtracted for the ratios. Use -benchtime=50x.
func BenchmarkExec(b *testing.B) {
	e := newBenchEnv(b, false)
	ref := e.pushBusybox("busybox:latest")
	state := filepath.Join(e.wd, "state")
	svc := &model.Service{Project: "bench", Name: "sleep", Image: ref, Command: []string{"sleep", "600"}}
	spec, err := paths.New("", state, "").SpecStore().Save(b.Context(), svc)
	if err != nil {
		b.Fatal(err)
	}
	u := units.Service(units.Config{Binary: e.bin, Launcher: filepath.Join(e.wd, "berth-launcher"), StateDir: state}, svc, spec)
	e.run("sh", "-c", fmt.Sprintf("cat > /run/systemd/system/%s <<'EOF'\n%sEOF\nsystemctl daemon-reload", u.Name, u.Text()))
	e.sh("systemctl start " + u.Name)
	pid := e.sh("systemctl show -p MainPID --value " + u.Name)

	podman := []string{"--runtime", "runc", "--cgroup-manager", "cgroupfs"}
	podmanOK := true
	out, err := e.sb.Command(e.ctx, "podman", append(podman, "run", "--detach", "--rm", "--name", "benchexec", "--tls-verify=false",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000", ref, "sleep", "600")...).CombinedOutput()
	if err != nil {
		podmanOK = false
		b.Logf("podman cannot run a container here, no podman figure: %v\n%s", err, out)
	} else {
		b.Cleanup(func() {
			_ = e.sb.Command(e.ctx, "podman", append(podman, "rm", "--force", "--time", "0", "benchexec")...).Run()
		})
	}

	solo := filepath.Join(e.wd, "solo", "berth")
	e.run("sh", "-c", fmt.Sprintf("mkdir -p %s && cp %s %s", filepath.Dir(solo), e.bin, solo))

	cases := []struct {
		name string
		args []string
	}{
		{"enter", []string{"true"}},
		{"berth", []string{e.bin, "--state-dir", state, "exec", "bench/sleep", "true"}},
		{"berth-solo", []string{solo, "--state-dir", state, "exec", "bench/sleep", "true"}},
		{"nsenter", []string{"nsenter", "-t", pid, "-a", "true"}},
	}
	if podmanOK {
		cases = append(cases, struct {
			name string
			args []string
		}{"podman", append(append([]string{"podman"}, podman...), "exec", "benchexec", "true")})
	}
	// Warm up caches and page in the binaries.
	for _, c := range cases {
		e.run(c.args[0], c.args[1:]...)
	}
	times := map[string][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, c := range cases {
			t0 := time.Now()
			e.run(c.args[0], c.args[1:]...)
			times[c.name] = append(times[c.name], time.Since(t0))
		}
	}
	b.StopTimer()

	med := map[string]time.Duration{}
	for _, c := range cases {
		m, lo, hi := stats(times[c.name])
		med[c.name] = m
		b.ReportMetric(float64(m.Microseconds())/1000, c.name+"-median-ms")
		b.Logf("%-8s median %v  p10 %v  p90 %v  (n=%d)", c.name, m, lo, hi, len(times[c.name]))
	}
	net := func(n string) float64 { return float64(med[n] - med["enter"]) }
	b.ReportMetric(net("berth")/net("nsenter"), "berth/nsenter")
	b.ReportMetric(net("berth-solo")/net("berth"), "solo/berth")
	msg := fmt.Sprintf("minus the enter baseline: berth exec %v (without the launcher %v, %.2fx), nsenter %v; berth/nsenter = %.2fx",
		med["berth"]-med["enter"], med["berth-solo"]-med["enter"], net("berth-solo")/net("berth"), med["nsenter"]-med["enter"], net("berth")/net("nsenter"))
	if podmanOK {
		b.ReportMetric(net("podman")/net("berth"), "podman/berth")
		b.ReportMetric(net("berth")/net("podman"), "berth/podman")
		msg += fmt.Sprintf(", podman exec %v; podman/berth = %.2fx, berth/podman = %.2fx", med["podman"]-med["enter"], net("podman")/net("berth"), net("berth")/net("podman"))
	}
	b.Log(msg)
	// The exec must have run in the container, not beside it.
	for _, bin := range []string{e.bin, solo} {
		if got := e.sh(bin + " --state-dir " + state + " exec bench/sleep cat /proc/1/cmdline | tr '\\0' ' '"); !strings.HasPrefix(got, "sleep 600") {
			b.Fatalf("%s exec did not run in the container: %q", bin, got)
		}
	}
}

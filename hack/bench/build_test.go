package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildDockerfile is a two-stage build over the registry's busybox.
const buildDockerfile = `ARG BASE
FROM ${BASE} AS page
ARG GREETING=hello
RUN mkdir -p /out && echo "$GREETING" > /out/index.html
FROM ${BASE}
COPY --from=page /out/index.html /www/index.html
COPY app.sh /app.sh
RUN chmod 755 /app.sh
USER 1000
HEALTHCHECK --interval=1s CMD true
CMD ["/app.sh"]
`

// BenchmarkBuild times `berth apply` of a project whose one service is the
// two-stage build above, after an edit of a file it COPYs (so it rebuilds
// and recreates), and `berth build` (build and import alone), against
// `podman build --runtime runc` of the same Dockerfile and context after
// the same kind of edit. Both keep their layer
// caches, as a user's host does; the first build of each is not timed.
func BenchmarkBuild(b *testing.B) {
	e := newBenchEnv(b, true)
	base := e.pushBusybox("busybox:latest")
	config, state := filepath.Join(e.wd, "etc"), filepath.Join(e.wd, "state")
	ctxDir := filepath.Join(config, "bb", "app")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		b.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(ctxDir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write("Dockerfile", buildDockerfile)
	compose := fmt.Sprintf("services:\n  app:\n    build:\n      context: ./app\n      args: {BASE: %q}\n", base)
	if err := os.WriteFile(filepath.Join(config, "bb", "compose.yaml"), []byte(compose), 0o644); err != nil {
		b.Fatal(err)
	}
	edit := func(i int) {
		write("app.sh", fmt.Sprintf("#!/bin/sh\ntrap 'exit 0' TERM\necho run %d\nwhile true; do sleep 1; done\n", i))
	}
	berth := func(args ...string) {
		e.run(e.bin, append([]string{"--config-dir", config, "--state-dir", state}, args...)...)
	}

	root := filepath.Join(e.wd, "podman")
	conf := filepath.Join(root, "registries.conf")
	if err := os.MkdirAll(root, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", e.reg.Addr())), 0o600); err != nil {
		b.Fatal(err)
	}
	podman := func() {
		e.run("env", "CONTAINERS_REGISTRIES_CONF="+conf, "podman", "--root", filepath.Join(root, "storage"),
			// podman refuses a runroot over 50 characters; the sandbox's
			// /run is its own tmpfs.
			"--runroot", "/run/bb-podman", "--cgroup-manager", "cgroupfs", "build", "--runtime", "runc",
			"--ulimit", "nofile=1024:1024", "--network", "host", "--build-arg", "BASE="+base, "-t", "bb-app", ctxDir)
	}
	b.Cleanup(func() { _ = os.RemoveAll(root) })

	edit(0)
	berth("apply", "bb")
	podman()
	var tb, tbuild, tp []time.Duration
	for i := 1; i <= b.N; i++ {
		// An apply that builds, then one split into `berth build` (the
		// build and import alone) and an apply that only recreates.
		edit(i)
		t0 := time.Now()
		berth("apply", "bb")
		tb = append(tb, time.Since(t0))
		edit(1000 + i)
		t0 = time.Now()
		berth("build", "bb/app")
		tbuild = append(tbuild, time.Since(t0))
		berth("apply", "bb")
		edit(-i)
		t0 = time.Now()
		podman()
		tp = append(tp, time.Since(t0))
	}
	if !strings.Contains(e.sh("journalctl --no-pager -o cat -u berth-bb-app.service"), fmt.Sprintf("run %d", 1000+b.N)) {
		b.Fatalf("berth did not run the last build")
	}
	mb, _, _ := stats(tb)
	mbuild, _, _ := stats(tbuild)
	mp, _, _ := stats(tp)
	b.ReportMetric(float64(mb.Milliseconds()), "berth-apply-ms")
	b.ReportMetric(float64(mbuild.Milliseconds()), "berth-build-ms")
	b.ReportMetric(float64(mp.Milliseconds()), "podman-build-ms")
	b.ReportMetric(float64(mb)/float64(mp), "apply/podman")
	b.Logf("median of %d: berth apply (build+import+recreate) %v, berth build (build+import) %v, podman build %v; apply/podman %.2f, build/podman %.2f",
		b.N, mb, mbuild, mp, float64(mb)/float64(mp), float64(mbuild)/float64(mp))
}

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateSystemdBuild: generate systemd of a build: service writes its
// .build.service, which the service's unit file Requires=: starting the
// service builds the image first; starting it again finds the image built
// and buildah does not run. (The unit files are written before the image
// exists, so they carry no check from its HEALTHCHECK: docs/build.md.)
func TestGenerateSystemdBuild(t *testing.T) {
	e := newBerthEnv(t)
	e.copyExample("buildapp")
	out := e.mustBerth("generate", "systemd", "buildapp", "--output", "/etc/systemd/system")
	t.Logf("generate:\n%s", out)
	const app, build = "berth-buildapp-app.service", "berth-buildapp-app.build.service"
	if !strings.Contains(out, "/etc/systemd/system/"+build) {
		t.Fatalf("generate did not write %s", build)
	}
	e.sh("systemctl daemon-reload")
	e.systemctl("start", app)
	j := func() string { return e.sh("journalctl --no-pager -o cat -u " + build) }
	if n := strings.Count(j(), "built sha256:"); n != 1 {
		t.Fatalf("starting %s built %d times, want 1:\n%s", app, n, j())
	}
	if row := e.buildPs()["app"]; row.Image != "localhost/buildapp-app:latest" || !strings.HasPrefix(row.Digest, "sha256:") {
		t.Errorf("ps shows app running %q (%q), want the built image", row.Image, row.Digest)
	}
	e.systemctl("stop", app)
	e.systemctl("start", app)
	if n := strings.Count(j(), "built sha256:"); n != 1 || !strings.Contains(j(), "is up to date") {
		t.Errorf("a second start rebuilt (%d builds):\n%s", n, j())
	}
	e.systemctl("stop", app)
}

// copyExample copies examples/name into the config dir from the host side:
// the sandbox hides /tmp and /var/tmp, where a checkout may live.
func (e *berthEnv) copyExample(name string) {
	e.t.Helper()
	if err := os.CopyFS(filepath.Join(e.config, name), os.DirFS(filepath.Join("../../examples", name))); err != nil {
		e.t.Fatal(err)
	}
}

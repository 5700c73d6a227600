package units_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/units"
)

// TestBuildUnitFiles: a build: service's unit file Requires= and is After=
// its oneshot .build.service, which runs `berth build-run` on the job
// file; systemd-analyze accepts both.
func TestBuildUnitFiles(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is required (apt-get install systemd)")
	}
	cfg := units.Config{Binary: "/bin/true", UnitFile: true}
	svc := &model.Service{Project: "web", Name: "app", Image: model.DefaultBuildImage("web", "app"),
		Restart: model.Restart{Mode: model.RestartNo}, Build: &model.Build{Context: "/srv/app", Hash: "sha256:ab"}}
	set, err := units.Build(cfg, svc, "/var/lib/berth/specs/x.json")
	if err != nil {
		t.Fatal(err)
	}
	units.RequireBuild(set.Service, svc)
	b := units.BuildUnit(cfg, svc, "/var/lib/berth/build/jobs/web-app.json")
	if b.Name != "berth-web-app.build.service" {
		t.Errorf("build unit name %q", b.Name)
	}
	text := b.Text()
	for _, want := range []string{"Type=oneshot", "ExecStart=/bin/true build-run --job /var/lib/berth/build/jobs/web-app.json", "TimeoutStartSec=1h"} {
		if !strings.Contains(text, want) {
			t.Errorf("build unit lacks %q:\n%s", want, text)
		}
	}
	dir := t.TempDir()
	var paths []string
	for _, u := range append(set.Files(), b) {
		p := filepath.Join(dir, u.Name)
		if err := os.WriteFile(p, []byte(u.Text()), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	svcText, _ := os.ReadFile(paths[0])
	for _, want := range []string{"Requires=berth-web-app.build.service", "After=berth-web-app.build.service"} {
		if !strings.Contains(string(svcText), want) {
			t.Errorf("service unit lacks %q:\n%s", want, svcText)
		}
	}
	out, err := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

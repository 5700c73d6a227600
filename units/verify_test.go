package units_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/units"
)

// TestSystemdAnalyzeVerify runs systemd's own validator on every unit the
// golden inputs produce; any complaint (even a warning) fails the test.
func TestSystemdAnalyzeVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is required (apt-get install systemd)")
	}
	inputs, _ := filepath.Glob("testdata/*.yaml")
	dir := t.TempDir()
	// verify checks that ExecStart's binary exists; /bin/true stands in.
	cfg := units.Config{Binary: "/bin/true"}
	for _, in := range inputs {
		p, err := compose.LoadProject(context.Background(), "verify", in)
		if err != nil {
			t.Fatal(err)
		}
		for i := range p.Services {
			u := units.Service(cfg, &p.Services[i], "/var/lib/berth/specs/x.json")
			path := filepath.Join(dir, u.Name)
			if err := os.WriteFile(path, []byte(u.Text()), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("systemd-analyze", "verify", "--man=no", path).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s\n%s", u.Name, err, out, u.Text())
			}
		}
	}
}

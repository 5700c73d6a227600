package units_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/units"
)

// TestSystemdAnalyzeVerify runs systemd's own validator on every unit file
// the golden inputs produce, each project's files together in one directory
// (so dependencies, sockets and timers find their units); any complaint,
// even a warning, fails the test.
func TestSystemdAnalyzeVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is required (apt-get install systemd)")
	}
	// verify checks that ExecStart's binary exists; /bin/true stands in.
	cfg := units.Config{Binary: "/bin/true"}
	for name, p := range goldenCases(t) {
		dir := t.TempDir()
		var paths []string
		for i := range p.Services {
			set, err := units.Build(cfg, &p.Services[i], "/var/lib/berth/specs/x.json")
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range set.Files() {
				path := filepath.Join(dir, u.Name)
				if err := os.WriteFile(path, []byte(u.Text()), 0o644); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, path)
			}
		}
		args := append([]string{"verify", "--man=no"}, paths...)
		out, err := exec.Command("systemd-analyze", args...).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("%s: systemd-analyze verify: %v\n%s", name, err, out)
		}
	}
}

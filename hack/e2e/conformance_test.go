package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/systemd"
	"github.com/berth-dev/berth/systemd/systemdtest"
)

// insideEnv, set, makes TestManagerConformance run the suite itself: it is
// then running inside the sandbox.
const insideEnv = "BERTH_E2E_CONFORMANCE_INSIDE"

// TestManagerConformance runs the systemd client's conformance suite
// against a sandboxed systemd 252 over its private socket, as berth talks
// to the host's: the same suite the unit tests' Fake passes, so the fake
// behaves as systemd does. systemd refuses private-socket clients whose
// PID it cannot see, so this test binary runs itself inside the sandbox's
// PID namespace for the suite.
func TestManagerConformance(t *testing.T) {
	if os.Getenv(insideEnv) == "1" {
		systemdtest.Run(t, func(t *testing.T) systemdtest.Manager {
			c, err := systemd.Connect(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			return c
		})
		return
	}
	sb := BootSystemd(t)
	// The sandbox has its own /tmp, where go test keeps this binary.
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(WorkDir(t), "e2e.test")
	if err := os.WriteFile(bin, self, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := sb.Command(sbCtx(t), bin, "-test.run", "^TestManagerConformance$", "-test.count=1", "-test.v")
	cmd.Env = append(cmd.Env, insideEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("inside the sandbox:\n%s", out)
	if err != nil {
		t.Errorf("the conformance suite failed against systemd: %v", err)
		t.Log(sb.Diagnose(context.Background()))
	}
}

package e2e

import (
	"os"
	"os/exec"
	"testing"
)

// cniPlugins are the plugins berth's networks use, built from the `tool`
// directives in go.mod as `make build` does.
var cniPlugins = []string{"main/bridge", "ipam/host-local", "meta/portmap", "meta/firewall", "main/loopback", "meta/tuning"}

// BuildCNIPlugins builds the CNI plugins into dir; a berth binary finds
// them in "cni" next to itself.
func BuildCNIPlugins(t testing.TB, dir string) {
	t.Helper()
	args := []string{"build", "-o", dir + "/"}
	for _, p := range cniPlugins {
		args = append(args, "github.com/containernetworking/plugins/plugins/"+p)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building CNI plugins: %v\n%s", err, out)
	}
}

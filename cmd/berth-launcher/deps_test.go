package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLauncherLinksNoComposeLoader: the point of this binary is that its
// package init (paid by every container start, twice: the launcher and
// libcontainer's init re-exec) stays free of the Compose loader and its
// dependencies. An import of package compose anywhere on the runtime's
// path brings them back; this says where.
func TestLauncherLinksNoComposeLoader(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "seccomp", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/berth-dev/berth/compose" ||
			strings.HasPrefix(dep, "github.com/compose-spec/") ||
			strings.HasPrefix(dep, "github.com/santhosh-tekuri/jsonschema") ||
			strings.HasPrefix(dep, "github.com/distribution/reference") {
			why, _ := exec.Command("go", "mod", "why", "-m", dep).CombinedOutput()
			t.Errorf("berth-launcher links %s (import github.com/berth-dev/berth/compose/model, not compose, on the launcher's path)\n%s", dep, why)
		}
	}
}

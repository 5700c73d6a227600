package main

import (
	"testing"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/units"
)

// TestUnitPIDFileMatchesRuntime: units may not import runtime, so the
// PIDFile= path is built twice; they must agree or systemd never finds the
// container.
func TestUnitPIDFileMatchesRuntime(t *testing.T) {
	svc := &model.Service{Project: "p", Name: "s", Image: "busybox"}
	for _, run := range []string{"", "/var/run/other"} {
		u := units.Service(units.Config{Binary: "/bin/berth", RunDir: run}, svc, "/spec.json")
		got, _ := u.Value("Service", "PIDFile")
		if want := runtime.PIDFile(run, svc.ID()); got != want {
			t.Errorf("run dir %q: unit PIDFile=%s, runtime writes %s", run, got, want)
		}
	}
}

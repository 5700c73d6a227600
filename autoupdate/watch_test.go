package autoupdate

import (
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestEndedRunOnce: a restart: no service whose container exited 0 ran as
// meant; one that failed, or any service systemd restarts, did not.
func TestEndedRunOnce(t *testing.T) {
	once := &model.Service{Restart: model.Restart{Mode: model.RestartNo}}
	always := &model.Service{Restart: model.Restart{Mode: model.RestartAlways}}
	for _, tc := range []struct {
		name string
		svc  *model.Service
		st   UnitState
		want bool
	}{
		{"exited 0, still loaded", once, UnitState{LoadState: "loaded", ActiveState: "inactive", Result: "success"}, true},
		{"exited 0, collected", once, UnitState{LoadState: "not-found", ActiveState: "inactive"}, true},
		{"exited 1", once, UnitState{LoadState: "loaded", ActiveState: "failed", Result: "exit-code"}, false},
		{"running", once, UnitState{LoadState: "loaded", ActiveState: "active", Result: "success"}, false},
		{"restart always, exited 0", always, UnitState{LoadState: "loaded", ActiveState: "inactive", Result: "success"}, false},
	} {
		if got := ended(tc.svc, tc.st); got != tc.want {
			t.Errorf("%s: ended = %v, want %v", tc.name, got, tc.want)
		}
	}
}

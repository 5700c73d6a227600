package reconciler

import (
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestOneOffService: the one-off is compose run's container: overrides
// applied, no ports, restarts, health checks or dependencies, runs to
// completion, and the service it copies is left as it was.
func TestOneOffService(t *testing.T) {
	base := &model.Service{Project: "p", Name: "app", Image: "img", Command: []string{"serve"},
		Environment: map[string]string{"A": "1"}, Ports: []model.Port{{HostPort: 80, ContainerPort: 80}},
		Restart: model.Restart{Mode: model.RestartAlways}, Health: &model.Health{Cmd: []string{"true"}},
		DependsOn: map[string]model.Dependency{"db": {Required: true}}}
	svc, err := oneOffService(base, OneOffRequest{ID: "abc123", Args: []string{"migrate"}, Env: []string{"B=2", "A=3"}, User: "1000", Workdir: "/w"})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case svc.Name != "app-run-abc123", svc.ID() != "p-app-run-abc123":
		t.Errorf("name %s id %s", svc.Name, svc.ID())
	case len(svc.Command) != 1 || svc.Command[0] != "migrate":
		t.Errorf("command %v", svc.Command)
	case svc.Environment["A"] != "3" || svc.Environment["B"] != "2" || svc.User != "1000" || svc.WorkingDir != "/w":
		t.Errorf("overrides: %v %s %s", svc.Environment, svc.User, svc.WorkingDir)
	case svc.Ports != nil || svc.Health != nil || svc.DependsOn != nil || svc.Restart.Mode != model.RestartNo || !svc.Oneshot:
		t.Errorf("one-off keeps the service's long-running traits: %+v", svc)
	}
	if base.Environment["A"] != "1" || len(base.Ports) != 1 || base.Command[0] != "serve" {
		t.Errorf("the service itself changed: %+v", base)
	}
	if _, err := oneOffService(base, OneOffRequest{ID: "x", Env: []string{"NOEQUALS"}}); err == nil {
		t.Error("-e without = accepted")
	}
}

package units

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

func TestPropertiesMatchUnitText(t *testing.T) {
	svc := &model.Service{Project: "hello", Name: "ticker", Image: "busybox",
		Restart: model.Restart{Mode: model.RestartAlways}, StopSignal: "INT",
		StopGracePeriod: 30 * time.Second, Resources: model.Resources{MemoryMax: 64 << 20, CPUs: 0.5, PidsMax: 10}}
	u := Service(Config{Binary: "/usr/bin/berth"}, svc, "/var/lib/berth/specs/s.json")
	props, err := u.Properties()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, p := range props {
		got[p.Name] = p.Value.Value()
	}
	want := map[string]any{
		"Type": "forking", "Restart": "always", "KillMode": "mixed", "Delegate": true,
		// TimeoutStopSec: the 30 s grace period (ExecStop's) plus the cleanup budget.
		"KillSignal": int32(2), "TimeoutStopUSec": uint64(30e6 + CleanupBudget.Microseconds()), "MemoryMax": uint64(64 << 20),
		"CPUQuotaPerSecUSec": uint64(500000), "TasksMax": uint64(10), "RestartUSec": uint64(100000),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	env, _ := got["Environment"].([]string)
	if len(env) != 4 || env[0] != EnvHash+"="+svc.Hash() {
		t.Errorf("Environment = %v", env)
	}
	if stop, _ := got["ExecStop"].([]execCommand); len(stop) != 1 || strings.Join(stop[0].Args, " ") != "/usr/bin/berth stop-container --signal SIGINT --grace 30s" {
		t.Errorf("ExecStop = %+v", stop)
	}
	exec, _ := got["ExecStart"].([]execCommand)
	if len(exec) != 1 || exec[0].Path != "/usr/bin/berth" || exec[0].IgnoreFailure || exec[0].Args[1] != "run" {
		t.Errorf("ExecStart = %+v", exec)
	}
}

func TestNameEscapes(t *testing.T) {
	if n := Name("hello", "web"); n != "berth-hello-web.service" {
		t.Errorf("Name = %s", n)
	}
	if n := Name("my-app", "web_1"); n != `berth-my\x2dapp-web_1.service` {
		t.Errorf("Name = %s", n)
	}
}

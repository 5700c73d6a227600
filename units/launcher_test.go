package units

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestLauncherRunsContainers: with a launcher configured, what starts and
// cleans up containers and pods runs it; the health check and everything
// else still runs berth. Without one, berth runs everything.
func TestLauncherRunsContainers(t *testing.T) {
	cfg := Config{Binary: "/usr/bin/berth", Launcher: "/usr/bin/berth-launcher"}
	svc := &model.Service{Project: "p", Name: "web", Image: "busybox", Pod: "pod",
		Health: &model.Health{Cmd: []string{"true"}, Interval: 30e9, Timeout: 30e9, Retries: 3}}
	set, err := Build(cfg, svc, "/s.json")
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if set.HealthService == nil {
		t.Fatal("no health service unit")
	}
	for _, u := range []*Unit{set.Service, set.HealthService} {
		text.WriteString(u.Text())
	}
	oneshot := *svc
	oneshot.Oneshot = true
	text.WriteString(Service(cfg, &oneshot, "/s.json").Text())
	text.WriteString(Pod(cfg, "p", &model.Pod{Name: "pod"}).Text())
	for _, want := range []string{
		"ExecStart=/usr/bin/berth-launcher run --spec /s.json -- p-web",
		"ExecStart=/usr/bin/berth-launcher run --wait --spec /s.json -- p-web",
		"ExecStop=/usr/bin/berth-launcher stop-container --signal SIGTERM --grace 10s",
		"ExecStopPost=/usr/bin/berth-launcher cleanup -- p-web",
		"ExecStart=/usr/bin/berth-launcher pod-run -- p",
		"ExecStopPost=/usr/bin/berth-launcher pod-cleanup -- p",
		"ExecStart=/usr/bin/berth healthcheck ",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("units lack %q:\n%s", want, text.String())
		}
	}

	cfg.Launcher = ""
	if got := Service(cfg, svc, "/s.json").Text(); !strings.Contains(got, "ExecStart=/usr/bin/berth run --spec /s.json -- p-web") {
		t.Errorf("without a launcher:\n%s", got)
	}
}

package units

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestPodUnit: the pod unit pins the namespaces with pod-run, unpins them
// after every stop, carries its own hash, and converts to D-Bus properties;
// a member's unit is bound to it.
func TestPodUnit(t *testing.T) {
	p := &model.Pod{Name: "web", Hostname: "web-1", HostNetwork: true}
	u := Pod(Config{Binary: "/usr/bin/berth"}, "my-app", p)
	if u.Name != `berth-my\x2dapp.pod.service` {
		t.Errorf("name %s", u.Name)
	}
	text := u.Text()
	for _, want := range []string{
		"Type=oneshot", "RemainAfterExit=yes",
		"ExecStart=/usr/bin/berth pod-run --hostname web-1 --host-network -- my-app",
		"ExecStopPost=/usr/bin/berth pod-cleanup -- my-app",
		"BERTH_SPEC_HASH=" + PodHash(p), "BERTH_SERVICE=.pod",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("pod unit lacks %q:\n%s", want, text)
		}
	}
	if _, err := u.Properties(); err != nil {
		t.Fatal(err)
	}
	before := PodHash(p)
	p.Hostname = "web-2"
	if PodHash(p) == before {
		t.Error("hash did not change with the hostname")
	}

	svc := &model.Service{Project: "my-app", Name: "main", Image: "busybox", Pod: "web"}
	st := Service(Config{Binary: "/usr/bin/berth"}, svc, "/s.json").Text()
	for _, want := range []string{`BindsTo=berth-my\x2dapp.pod.service`, `After=berth-my\x2dapp.pod.service`} {
		if !strings.Contains(st, want) {
			t.Errorf("member unit lacks %s:\n%s", want, st)
		}
	}
}

// A container sharing another's network namespace is bound to its unit,
// for service:NAME and for container:NAME as apply resolves it.
func TestNetnsPeerUnit(t *testing.T) {
	for mode, want := range map[string]string{
		"service:web":             "berth-app-web.service",
		"container:other/db-main": `berth-other-db\x2dmain.service`,
	} {
		svc := &model.Service{Project: "app", Name: "side", Image: "busybox", NetworkMode: mode}
		text := Service(Config{Binary: "/usr/bin/berth"}, svc, "/s.json").Text()
		for _, w := range []string{"BindsTo=" + want, "After=" + want} {
			if !strings.Contains(text, w) {
				t.Errorf("%s: unit lacks %s:\n%s", mode, w, text)
			}
		}
	}
	peer := &model.Service{Project: "app", Name: "web", Image: "busybox", Joiners: []string{"app/side", "other/tap"}}
	text := Service(Config{Binary: "/usr/bin/berth"}, peer, "/s.json").Text()
	for _, w := range []string{"Wants=berth-app-side.service", "Wants=berth-other-tap.service"} {
		if !strings.Contains(text, w) {
			t.Errorf("peer unit lacks %s:\n%s", w, text)
		}
	}
	svc := &model.Service{Project: "app", Name: "side", Image: "busybox", NetworkMode: "container:unresolved"}
	if text := Service(Config{Binary: "/usr/bin/berth"}, svc, "/s.json").Text(); strings.Contains(text, "BindsTo=") {
		t.Errorf("unresolved container: mode bound:\n%s", text)
	}
}

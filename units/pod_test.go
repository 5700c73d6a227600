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

// TestSeveralPodUnits (issue 17): the pods of a file with several workloads
// each get a unit keyed <project>.<pod>, report .pod.<pod>, and their
// containers are bound to their own pod's unit.
func TestSeveralPodUnits(t *testing.T) {
	cfg := Config{Binary: "/usr/bin/berth"}
	web := &model.Pod{Name: "web", ID: model.PodID("my-app", "web"), Hostname: "web"}
	u := Pod(cfg, "my-app", web)
	if u.Name != `berth-my\x2dapp.web.pod.service` {
		t.Errorf("name %s", u.Name)
	}
	text := u.Text()
	for _, want := range []string{
		"ExecStart=/usr/bin/berth pod-run --hostname web -- my-app.web",
		"ExecStopPost=/usr/bin/berth pod-cleanup -- my-app.web",
		"BERTH_PROJECT=my-app", "BERTH_SERVICE=.pod.web", "BERTH_POD=web",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("pod unit lacks %q:\n%s", want, text)
		}
	}
	if !IsPodService(".pod.web") || !IsPodService(PodService) || IsPodService("web-app") {
		t.Error("IsPodService")
	}
	for _, pod := range []string{"web", "cache"} {
		svc := &model.Service{Project: "my-app", Name: pod + "-app", Image: "busybox", Pod: pod, PodID: model.PodID("my-app", pod)}
		st := Service(cfg, svc, "/s.json").Text()
		want := `berth-my\x2dapp.` + pod + ".pod.service"
		for _, w := range []string{"BindsTo=" + want, "After=" + want} {
			if !strings.Contains(st, w) {
				t.Errorf("%s lacks %s:\n%s", svc.Name, w, st)
			}
		}
		if strings.Count(st, "BindsTo=") != 1 {
			t.Errorf("%s is bound to more than its pod:\n%s", svc.Name, st)
		}
	}
}

// TestPodUnitNamesApart: no pod unit name is a container unit's or another
// pod's, however projects, pods and containers are named. (Two containers
// of one project whose service names are equal, such as c of pod b-x and
// x-c of pod b, are refused by the loader.)
func TestPodUnitNamesApart(t *testing.T) {
	projects := []string{"a", "a-b", "a-b-c", "a_b"}
	pods := []string{"b", "b-c", "c", "b.c", "pod"}
	containers := []string{"b", "c", "b-c", "pod", "app"}
	type owner struct{ project, service, what string }
	seen := map[string]owner{}
	add := func(name string, o owner) {
		if prev, dup := seen[name]; dup && (prev.project != o.project || prev.service != o.service) {
			t.Errorf("%s is both %s and %s", name, prev.what, o.what)
		}
		seen[name] = o
	}
	for _, p := range projects {
		add(PodName(p), owner{p, PodService, "the only pod of " + p})
		for _, c := range containers {
			add(Name(p, c), owner{p, c, "container " + c + " of the only pod of " + p})
		}
		for _, pod := range pods {
			add(PodName(model.PodID(p, pod)), owner{p, ".pod." + pod, "pod " + pod + " of " + p})
			for _, c := range containers {
				add(Name(p, pod+"-"+c), owner{p, pod + "-" + c, "container " + c + " of pod " + pod + " of " + p})
			}
		}
	}
}

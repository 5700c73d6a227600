package network

import (
	"context"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

func podEntry(ports ...[]model.Port) model.Entry {
	e := testProject("web", nil,
		model.Service{Name: "main", Pod: "web", Hostname: "webhost"},
		model.Service{Name: "side", Pod: "web", Hostname: "webhost"})
	e.Project.Pods = []*model.Pod{{Name: "web", Hostname: "webhost"}}
	for i, p := range ports {
		e.Project.Services[i].Ports = p
	}
	return e
}

// A pod gets one stable address on its project's default network and
// every container's hostPorts; its containers get none of their own.
func TestPreparePod(t *testing.T) {
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	prep := func(e model.Entry) *model.Project {
		t.Helper()
		es := []model.Entry{e}
		if err := Prepare(context.Background(), p, es, nil, true); err != nil {
			t.Fatal(err)
		}
		if es[0].Err != nil {
			t.Fatal(es[0].Err)
		}
		return es[0].Project
	}
	pr := prep(podEntry([]model.Port{{HostPort: 8080, ContainerPort: 80}}, []model.Port{{HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53, Protocol: "udp"}}))
	a, ok := pr.Pods[0].Networks["web_default"]
	if !ok || len(pr.Pods[0].Networks) != 1 || a.IPv4 == "" {
		t.Fatalf("pod networks %v", pr.Pods[0].Networks)
	}
	if len(pr.Pods[0].Ports) != 2 || pr.Pods[0].Ports[0].Protocol != "tcp" {
		t.Errorf("pod ports %v", pr.Pods[0].Ports)
	}
	for _, s := range pr.Services {
		if len(s.Networks) != 0 {
			t.Errorf("container %s got its own networks %v", s.Name, s.Networks)
		}
	}
	ms, _ := p.Members("web_default")
	if len(ms) != 1 || ms[0].ID != PodID("web") || ms[0].Service != PodService || strings.Join(ms[0].Names, ",") != "webhost,web" {
		t.Fatalf("members %+v", ms)
	}
	if again := prep(podEntry()); again.Pods[0].Networks["web_default"].IPv4 != a.IPv4 {
		t.Errorf("pod address moved from %v to %v", a, again.Pods[0].Networks["web_default"])
	}
	addrs, err := podAddresses(p, "web")
	if err != nil || addrs["web_default"] != a.IPv4 {
		t.Errorf("pod addresses %v, %v", addrs, err)
	}

	// Two containers of a pod cannot publish the same host port.
	es := []model.Entry{podEntry([]model.Port{{HostPort: 8080, ContainerPort: 80}}, []model.Port{{HostPort: 8080, ContainerPort: 81}})}
	if err := Prepare(context.Background(), p, es, nil, true); err != nil {
		t.Fatal(err)
	}
	if es[0].Err == nil || !strings.Contains(es[0].Err.Error(), "hostPort 8080/tcp") {
		t.Errorf("duplicate hostPort: %v", es[0].Err)
	}

	// A host-network pod gets nothing; GC keeps a running pod's network
	// and drops it once the project is gone.
	host := podEntry()
	host.Project.Pods[0].HostNetwork = true
	if pr := prep(host); pr.Pods[0].Networks != nil {
		t.Errorf("host-network pod got networks %v", pr.Pods[0].Networks)
	}
	if err := GC(context.Background(), p, t.TempDir(), []model.Entry{podEntry()}, nil, nil); err != nil && !strings.Contains(err.Error(), "plugin") {
		t.Fatal(err)
	}
	if ms, _ := p.Members("web_default"); len(ms) != 1 {
		t.Errorf("GC dropped the pod's reservation: %v", ms)
	}
}

// container:NAME resolves to PROJECT/SERVICE across projects, by
// container_name or id; unknown or ambiguous names fail that project.
func TestResolveNetnsPeers(t *testing.T) {
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	mk := func(mode string) []model.Entry {
		return []model.Entry{
			testProject("a", nil, model.Service{Name: "web", ContainerName: "webbox"}, model.Service{Name: "db"}),
			testProject("b", nil, model.Service{Name: "tap", NetworkMode: mode}),
		}
	}
	for mode, want := range map[string]string{
		"container:webbox": "container:a/web",
		"container:a-db":   "container:a/db",
		"container:nobody": "",
		"container:b-tap":  "",
	} {
		es := mk(mode)
		if err := Prepare(context.Background(), p, es, nil, false); err != nil {
			t.Fatal(err)
		}
		if want == "" {
			if es[1].Err == nil {
				t.Errorf("%s accepted", mode)
			}
			continue
		}
		if es[1].Err != nil || es[1].Project.Services[0].NetworkMode != want {
			t.Errorf("%s: %v %v, want %s", mode, es[1].Err, es[1].Project, want)
		}
		if j := es[0].Project.Services[0].Joiners; mode == "container:webbox" && (len(j) != 1 || j[0] != "b/tap") {
			t.Errorf("web's joiners %v, want [b/tap]", j)
		}
		if pr, s, ok := ContainerPeer(want); !ok || pr+"/"+s != strings.TrimPrefix(want, "container:") {
			t.Errorf("ContainerPeer(%s) = %s %s %v", want, pr, s, ok)
		}
	}
}

// TestGCKeepsUnitFileProjects: a project whose units `generate systemd`
// wrote has no config entry, yet GC keeps its reservations (found by the
// VM suite: after a reboot its network was gone and the unit failed).
func TestGCKeepsUnitFileProjects(t *testing.T) {
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	es := []model.Entry{testProject("gen", map[string]model.Network{"default": {}}, model.Service{Name: "pinger", Networks: att("")})}
	if err := Prepare(context.Background(), p, es, nil, true); err != nil || es[0].Err != nil {
		t.Fatal(err, es[0].Err)
	}
	if err := p.MarkUnitFile("gen"); err != nil {
		t.Fatal(err)
	}
	if err := GC(context.Background(), p, t.TempDir(), nil, nil, nil); err != nil && !strings.Contains(err.Error(), "plugin") {
		t.Fatal(err)
	}
	if ms, _ := p.Members("gen_default"); len(ms) != 1 {
		t.Errorf("GC dropped the unit file's reservation: %v", ms)
	}
}

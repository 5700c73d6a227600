package units

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

func TestBuildRefusesBadInput(t *testing.T) {
	base := func() *model.Service {
		return &model.Service{Project: "p", Name: "s", Image: "busybox"}
	}
	cases := []struct {
		name string
		edit func(*model.Service)
		want string
	}{
		{"unit property outside the allow-list", func(s *model.Service) {
			s.Unit = map[string][]string{"ExecStart": {"/bin/evil"}, "CPUWeight": {"10"}}
		}, `unsupported property ExecStart (allowed: After, `},
		{"bad unit value", func(s *model.Service) { s.Unit = map[string][]string{"Nice": {"very"}} }, `x-berth.unit.Nice: "very"`},
		{"socket without port", func(s *model.Service) { s.Sockets = []model.Socket{{Listen: "localhost:http"}} }, `x-berth.sockets[0]: listen "localhost:http"`},
		{"accept on a datagram socket", func(s *model.Service) { s.Sockets = []model.Socket{{Listen: "udp:8080", Accept: true}} }, "needs every socket of the service to be a stream socket"},
		{"accept on one socket only", func(s *model.Service) {
			s.Sockets = []model.Socket{{Listen: "8080", Accept: true}, {Listen: "8081"}}
		}, "needs every socket of the service to be a stream socket with accept: true"},
		{"notify healthy without health", func(s *model.Service) { s.Notify = model.NotifyHealthy }, "needs a healthcheck"},
	}
	for _, c := range cases {
		s := base()
		c.edit(s)
		_, err := Build(Config{Binary: "/b"}, s, "/spec")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
}

func TestCPUWeight(t *testing.T) {
	for shares, want := range map[int64]int64{2: 1, 512: 50, 1024: 100, 2048: 200, 262144: 10000} {
		if got := CPUWeight(shares); got != want {
			t.Errorf("CPUWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

func TestParseListen(t *testing.T) {
	for in, want := range map[string][2]string{
		"8080":               {"ListenStream", "8080"},
		"127.0.0.1:8080":     {"ListenStream", "127.0.0.1:8080"},
		"[::1]:8080":         {"ListenStream", "[::1]:8080"},
		"udp:127.0.0.1:5353": {"ListenDatagram", "127.0.0.1:5353"},
		"/run/app.sock":      {"ListenStream", "/run/app.sock"},
	} {
		k, a, err := ParseListen(in)
		if err != nil || k != want[0] || a != want[1] {
			t.Errorf("ParseListen(%q) = %s %s %v", in, k, a, err)
		}
	}
	for _, bad := range []string{"", "0", "70000", "host:80", "/run/../x", "a:b:c"} {
		if _, _, err := ParseListen(bad); err == nil {
			t.Errorf("ParseListen(%q) accepted", bad)
		}
	}
}

// TestBuildAccept: an accepting service is an Accept=yes socket that
// carries the service's identity (the reconciler observes it) and starts
// with its template as a runtime unit file, never as a transient unit.
func TestBuildAccept(t *testing.T) {
	svc := &model.Service{Project: "p", Name: "web", Image: "busybox",
		Sockets: []model.Socket{{Listen: "127.0.0.1:8080", Accept: true}}}
	set, err := Build(Config{Binary: "/b"}, svc, "/spec")
	if err != nil {
		t.Fatal(err)
	}
	tr := set.Transient()
	if tr.Name != "berth-p-web.socket" || len(tr.Aux) != 0 || len(tr.Files) != 1 || tr.Files[0].Name != "berth-p-web@.service" {
		t.Fatalf("transient %s aux %d files %v", tr.Name, len(tr.Aux), tr.Files)
	}
	if v, _ := tr.Value("Socket", "Accept"); v != "yes" {
		t.Errorf("Accept=%q", v)
	}
	env := map[string]bool{}
	for _, o := range tr.Options {
		if o.Name == "Environment" {
			env[o.Value] = true
		}
	}
	if !env["BERTH_PROJECT=p"] || !env["BERTH_SERVICE=web"] || !env["BERTH_SPEC_HASH="+svc.Hash()] {
		t.Errorf("socket environment %v lacks the service's identity", env)
	}
	tpl := tr.Files[0]
	if v, _ := tpl.Value("Service", "ExecStart"); !strings.Contains(v, "run --wait --spec /spec -- p-web") {
		t.Errorf("ExecStart=%s", v)
	}
	if v, _ := tpl.Value("Service", "ExecStopPost"); !strings.Contains(v, "cleanup --instance -- p-web") {
		t.Errorf("ExecStopPost=%s", v)
	}
	if v, _ := tpl.Value("Unit", "PartOf"); v != "berth-p-web.socket" {
		t.Errorf("PartOf=%s: instances must stop with their socket", v)
	}
	if _, ok := tpl.Value("Service", "PIDFile"); ok {
		t.Error("a per-connection instance has no fixed PID file")
	}
	if !IsInstance("berth-p-web@1-127.0.0.1:8080-127.0.0.1:5000.service") || IsInstance("berth-p-web.service") {
		t.Error("IsInstance")
	}
}

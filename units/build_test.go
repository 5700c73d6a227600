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
		{"socket accept", func(s *model.Service) { s.Sockets = []model.Socket{{Listen: "8080", Accept: true}} }, "accept: true is not supported"},
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

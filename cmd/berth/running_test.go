package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/berth-dev/berth/systemd"
	"github.com/berth-dev/berth/units"
)

func unitOf(project, service string) systemd.Unit {
	return systemd.Unit{Name: units.Name(project, service), Environment: map[string]string{units.EnvProject: project, units.EnvService: service}}
}

func TestMatchServices(t *testing.T) {
	all := []systemd.Unit{unitOf("shop", "web"), unitOf("shop", "db"), unitOf("blog", "web"), unitOf("blog", "cache"), unitOf("db", "x")}
	for _, c := range []struct {
		arg      string
		projects bool
		want     []service
		err      string
	}{
		{"shop/web", false, []service{{"shop", "web"}}, ""},
		{"cache", false, []service{{"blog", "cache"}}, ""},
		{"web", false, nil, "several projects; write one of shop/web, blog/web"},
		{"shop", true, []service{{"shop", "web"}, {"shop", "db"}}, ""},
		{"db", true, nil, "both a project and a service"},
		{"nope", false, nil, `no berth service "nope"`},
		{"/web", false, nil, "want PROJECT/SERVICE"},
	} {
		got, err := matchServices(all, c.arg, c.projects)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.arg, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v %v, want %v", c.arg, got, err, c.want)
		}
	}
}

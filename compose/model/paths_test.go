package model

import (
	"strings"
	"testing"
)

// TestPath: only single clean elements join a path under a berth dir.
func TestPath(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", "../x", "a\x00b", "a\nb", "a\rb", "kn-../../../specs/*" + "/"} {
		if p, err := Path("/var/lib/berth", "specs", bad); err == nil {
			t.Errorf("Path(%q) = %s, want an error", bad, p)
		}
	}
	for _, good := range []string{"web", "p-web-0123456789abcdef.json", "kn-..", "a b"} {
		p, err := Path("/var/lib/berth", "specs", good)
		if err != nil || p != "/var/lib/berth/specs/"+good {
			t.Errorf("Path(%q) = %s, %v", good, p, err)
		}
	}
}

// TestCheckID: project and service names make file names and unit names.
func TestCheckID(t *testing.T) {
	for _, c := range []struct{ project, service string }{
		{"Kn", "web"}, {"-p", "web"}, {"p", "../../../../escaped-spec"}, {"p", "*"}, {"p", ".."}, {"p", "a b"}, {"p", "a\rb"},
		{"p", strings.Repeat("x", 300)},
	} {
		if err := CheckID(c.project, c.service); err == nil {
			t.Errorf("CheckID(%q, %q): no error", c.project, c.service)
		}
	}
	for _, c := range []struct{ project, service string }{{"p", "web"}, {"p_1", "Web.2"}, {"p", "-x"}} {
		if err := CheckID(c.project, c.service); err != nil {
			t.Errorf("CheckID(%q, %q): %v", c.project, c.service, err)
		}
	}
}

func TestInstanceID(t *testing.T) {
	id, err := InstanceID("p-web", "0123456789abcdef0123456789abcdef")
	if err != nil || id != "p-web+0123456789ab" {
		t.Errorf("InstanceID = %q, %v", id, err)
	}
	for _, bad := range []string{"", "0123", "0123456789aZcdef", "../../etc/xx"} {
		if _, err := InstanceID("p-web", bad); err == nil {
			t.Errorf("InstanceID accepted invocation %q", bad)
		}
	}
	if err := CheckID("p", "web+0123456789ab"); err == nil {
		t.Error("a service name with '+' would collide with instance IDs")
	}
}

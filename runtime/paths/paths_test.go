package paths

import (
	"strings"
	"testing"
)

// TestDefaults: an empty dir is its default, so every caller agrees on
// where berth's state is.
func TestDefaults(t *testing.T) {
	for _, l := range []Layout{{}, New("", "", "")} {
		if got, _ := l.PIDFile("p-web"); got != "/run/berth/containers/p-web/pid" {
			t.Errorf("PIDFile = %s", got)
		}
		if got := l.Specs(); got != "/var/lib/berth/specs" {
			t.Errorf("Specs = %s", got)
		}
		if got := l.Settings(); got != "/etc/berth/berth.yaml" {
			t.Errorf("Settings = %s", got)
		}
	}
	l := New("/c", "/s", "/r")
	if got, _ := l.PIDFile("p-web"); got != "/r/containers/p-web/pid" {
		t.Errorf("PIDFile = %s", got)
	}
}

// TestTraversalRefused: a name from the model that is not one clean file
// name never becomes a path.
func TestTraversalRefused(t *testing.T) {
	l := New("/c", "/s", "/r")
	bad := []string{"", ".", "..", "../x", "a/b", "a\nb", "a\rb", "x/../../etc"}
	for _, id := range bad {
		for what, f := range map[string]func(string) (string, error){
			"PIDFile": l.PIDFile, "ContainerRun": l.ContainerRun, "ContainerState": l.ContainerState,
			"Volume":   l.Volume,
			"SpecFile": func(id string) (string, error) { return l.SpecFile(id, "0123456789abcdef") },
		} {
			if p, err := f(id); err == nil {
				t.Errorf("%s(%q) = %s, want an error", what, id, p)
			}
		}
	}
	for _, hash := range []string{"", "../../etc/passwd", "0123456789ABCDEF", "0123"} {
		if p, err := l.SpecFile("p-web", hash); err == nil {
			t.Errorf("SpecFile hash %q = %s, want an error", hash, p)
		}
	}
	if _, err := l.SpecStore().PathOf("../..", "specs", "0123456789abcdef"); err == nil || !strings.Contains(err.Error(), "project name") {
		t.Errorf("PathOf(../.., specs): %v, want the project name refused", err)
	}
	if p, err := l.Volume("data"); err != nil || p != "/s/volumes/data" {
		t.Errorf("Volume(data) = %s, %v", p, err)
	}
}

package settings

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLoad: no file means defaults; every key decodes; unknown keys are
// listed with file and line but decode the rest; a file that is not YAML
// or a value of the wrong type is an error naming the file.
func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.yaml")
	if s, err := Load(path); err != nil || !reflect.DeepEqual(s, &Settings{}) {
		t.Fatalf("no berth.yaml: %+v, %v", s, err)
	}
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("insecure_registries: [reg.local:5000]\ncni_plugin_dir: /opt/cni\nprofiles: [debug]\n" +
		"agent: {interval: 10s}\nautoupdate:\n  schedule: \"@daily\"\n  sok: 5s\n  randomized_delay: 0s\nfoo: 1\n")
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	zero := time.Duration(0)
	want := &Settings{
		InsecureRegistries: []string{"reg.local:5000"}, CNIPluginDir: "/opt/cni", Profiles: []string{"debug"},
		Agent: Agent{Interval: 10 * time.Second}, AutoUpdate: AutoUpdate{Schedule: "@daily", RandomizedDelay: &zero},
		Unknown: []string{path + `:7: unknown key "sok"`, path + `:9: unknown key "foo"`},
	}
	slices.Sort(s.Unknown)
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("Load =\n%+v\nwant\n%+v", s, want)
	}
	for _, bad := range []string{"insecure_registries: [\n", "agent: {interval: soon}\n"} {
		write(bad)
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("berth.yaml %q: %v; want an error naming %s", bad, err, path)
		}
	}
}

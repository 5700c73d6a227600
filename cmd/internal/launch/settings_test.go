package launch

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestLoadSettings: the launcher takes its two keys from berth.yaml and
// leaves the rest of the file to berth; no file means defaults; a file
// that is not YAML is an error naming it.
func TestLoadSettings(t *testing.T) {
	dir := t.TempDir()
	if s, err := loadSettings(dir); err != nil || !reflect.DeepEqual(s, settings{}) {
		t.Fatalf("no berth.yaml: %+v, %v", s, err)
	}
	path := filepath.Join(dir, "berth.yaml")
	yaml := "insecure_registries: [reg.local:5000]\ncni_plugin_dir: /opt/cni\nprofiles: [debug]\nagent: {interval: 10s}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	want := settings{InsecureRegistries: []string{"reg.local:5000"}, CNIPluginDir: "/opt/cni"}
	if s, err := loadSettings(dir); err != nil || !reflect.DeepEqual(s, want) {
		t.Fatalf("loadSettings = %+v, %v; want %+v", s, err, want)
	}
	if err := os.WriteFile(path, []byte("insecure_registries: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSettings(dir); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("broken berth.yaml: %v; want an error naming %s", err, path)
	}
}

package paths

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

func service(project, name, image string) *model.Service {
	return &model.Service{Project: project, Name: name, Image: image}
}

// TestSpecsSaveLoad: a saved spec loads back equal, private to root, and
// under a name that carries its hash.
func TestSpecsSaveLoad(t *testing.T) {
	s := New("", t.TempDir(), "").SpecStore()
	svc := service("p", "web", "busybox")
	svc.Environment = map[string]string{"TOKEN": "x"}
	path, err := s.Save(t.Context(), svc)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "p-web-"+svc.Hash()+".json" {
		t.Errorf("saved as %s", path)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("spec file mode: %v, %v; want 0600", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("specs dir mode %v, want 0700", di.Mode())
	}
	got, err := s.Load(t.Context(), "p", "web", svc.Hash())
	if err != nil || got.Hash() != svc.Hash() || got.Environment["TOKEN"] != "x" {
		t.Fatalf("Load = %+v, %v", got, err)
	}
}

// TestSpecsForUnit: the spec a unit runs is found by the project, service
// and hash in its environment; a missing hash, a bad name, or a file that
// no longer hashes to its name is an error.
func TestSpecsForUnit(t *testing.T) {
	s := New("", t.TempDir(), "").SpecStore()
	svc := service("p", "web", "busybox")
	path, err := s.Save(t.Context(), svc)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.ForUnit(t.Context(), "p", "web", svc.Hash()); err != nil || got.Image != "busybox" {
		t.Fatalf("ForUnit = %+v, %v", got, err)
	}
	// A spec planted outside the specs dir, where "../" names would lead.
	outside := filepath.Join(filepath.Dir(filepath.Dir(path)), "x-0123456789abcdef.json")
	if err := os.WriteFile(outside, []byte(`{"project":"p","name":"web","image":"busybox"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ project, service, hash string }{
		{"p", "../../x", "0123456789abcdef"},
		{"..", "x", "0123456789abcdef"},
		{"p", "web", "../../../x"},
		{"p", "web", ""},
		{"p", "web", "0000000000000000"},
		{"..", "web", svc.Hash()},
		{"p", "../../x", svc.Hash()},
	} {
		if _, err := s.ForUnit(t.Context(), c.project, c.service, c.hash); err == nil {
			t.Errorf("ForUnit(%q, %q, %q): no error", c.project, c.service, c.hash)
		}
	}
	// Edited on disk: it no longer is what the unit was created with.
	if err := os.WriteFile(path, []byte(`{"project":"p","name":"web","image":"other"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ForUnit(t.Context(), "p", "web", svc.Hash()); err == nil {
		t.Error("ForUnit of a spec that does not hash to its name: no error")
	}
}

// TestSpecsPrune: Prune keeps exactly what keep claims and removes other
// specs and stray files; RemoveService touches only its own service ("web"
// never matches "web-2").
func TestSpecsPrune(t *testing.T) {
	dir := t.TempDir()
	s := New("", dir, "").SpecStore()
	web, web2, old := service("p", "web", "a"), service("p", "web-2", "a"), service("p", "web", "b")
	var paths []string
	for _, svc := range []*model.Service{web, web2, old} {
		p, err := s.Save(t.Context(), svc)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	stray := filepath.Join(dir, "specs", ".p-web.json.tmp123")
	if err := os.WriteFile(stray, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	removed := s.Prune(t.Context(), func(id, hash string) bool {
		return id == "p-web" && hash == web.Hash() || id == "p-web-2"
	})
	slices.Sort(removed)
	want := []string{".p-web.json.tmp123", filepath.Base(paths[2])}
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Errorf("Prune removed %v, want %v", removed, want)
	}
	if err := s.RemoveService(t.Context(), "p", "web", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(paths[0]); !os.IsNotExist(err) {
		t.Errorf("RemoveService(web) left %s", paths[0])
	}
	if _, err := os.Stat(paths[1]); err != nil {
		t.Errorf("RemoveService(web) removed web-2's spec: %v", err)
	}
	if err := s.RemoveService(t.Context(), "p", "*", ""); err == nil {
		t.Error("RemoveService with a glob name: no error")
	}
}

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestRunningSpecTraversal: auto-update reads the spec a unit names in its
// environment; names that climb out of the specs dir are refused, and a
// valid one still loads.
func TestRunningSpecTraversal(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	svc := &model.Service{Project: "p", Name: "web", Image: "busybox"}
	if _, err := model.SaveSpec(state, svc); err != nil {
		t.Fatal(err)
	}
	// A spec planted outside the specs dir, where "../" names would lead.
	outside := filepath.Join(dir, "x-0123456789abcdef.json")
	if err := os.WriteFile(outside, []byte(`{"project":"p","name":"web","image":"busybox"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ project, service, hash string }{
		{"p", "../../x", "0123456789abcdef"},
		{"..", "x", "0123456789abcdef"},
		{"p", "web", "../../../x"},
	} {
		if _, err := runningSpec(state, c.project, c.service, c.hash); err == nil {
			t.Errorf("runningSpec(%q, %q, %q): no error", c.project, c.service, c.hash)
		}
	}
	if got, err := runningSpec(state, "p", "web", svc.Hash()); err != nil || got.Name != "web" {
		t.Fatalf("runningSpec of a valid unit: %v, %v", got, err)
	}
}

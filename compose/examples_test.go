package compose

import (
	"context"
	"testing"
)

// TestExamplesLoad keeps every bundled example loadable without warnings.
func TestExamplesLoad(t *testing.T) {
	entries, err := LoadDir(context.Background(), "../examples")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no examples found")
	}
	for _, e := range entries {
		if e.Err != nil {
			t.Errorf("%s: %v", e.Name, e.Err)
			continue
		}
		if len(e.Project.Warnings) > 0 {
			t.Errorf("%s: unexpected warnings %v", e.Name, e.Project.Warnings)
		}
	}
}

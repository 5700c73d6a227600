package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamples: every example in examples/kube loads without errors or
// warnings, and its units are what the docs say.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/kube/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		p, err := Parse(name, f, b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(p.Warnings) > 0 {
			t.Errorf("%s: warnings %q", f, p.Warnings)
		}
		if len(p.Pods) == 0 || len(p.Services) == 0 {
			t.Errorf("%s: no pod or services", f)
		}
	}
}

package kube

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden is what a golden file holds: the project as loaded, and its
// warnings (which the project's JSON form leaves out).
type golden struct {
	Warnings []string        `json:"warnings"`
	Project  json.RawMessage `json:"project"`
}

// TestGolden loads every testdata/*.yaml manifest and compares the model
// with testdata/<case>.golden.json; -update rewrites them. Each manifest is
// a realistic object exercising a group of field mappings, so a reviewer
// reads input and model side by side.
func TestGolden(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.yaml")
	if len(inputs) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(name, in, b)
			if err != nil {
				t.Fatal(err)
			}
			p.Dir, p.Files = "", nil // machine-specific
			pj, err := json.MarshalIndent(p, "  ", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(golden{Warnings: p.Warnings, Project: pj}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			file := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./compose/kube -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from %s:\n%s", in, file, got)
			}
		})
	}
}

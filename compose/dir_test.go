package compose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestGoldenDir loads every testdata/dirs/<case>/ as a config dir with
// LoadDir and compares what each entry became (project name, files,
// services, volume and network names, warnings, error) with
// testdata/dirs/<case>.txt; `go test ./compose -update` rewrites them.
// Paths read $ROOT (testdata). The process environment is empty.
func TestGoldenDir(t *testing.T) {
	root, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := os.ReadDir(filepath.Join(root, "dirs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ce := range cases {
		if !ce.IsDir() {
			continue
		}
		name := ce.Name()
		t.Run(name, func(t *testing.T) {
			entries, err := LoadDir(context.Background(), filepath.Join(root, "dirs", name), WithEnviron(nil))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(describeEntries(entries), root, "$ROOT")
			path := filepath.Join(root, "dirs", name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s differs (go test ./compose -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

// describeEntries renders what a user would look for in each entry: the
// project name and the names derived from it.
func describeEntries(entries []model.Entry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "entry %s\n  project: %q\n", e.Path, e.Name)
		if e.Err != nil {
			fmt.Fprintf(&b, "  error: %v\n", e.Err)
			continue
		}
		p := e.Project
		for _, f := range p.Files {
			fmt.Fprintf(&b, "  file: %s\n", f)
		}
		for _, s := range p.Services {
			fmt.Fprintf(&b, "  service: %s (id %s, image %s)\n", s.Name, s.ID(), s.Image)
			for _, m := range s.Mounts {
				if m.Type == model.MountVolume {
					fmt.Fprintf(&b, "    volume: %s -> %s\n", m.Source, m.Target)
				}
			}
		}
		var nets []string
		for k, n := range p.Networks {
			nets = append(nets, k+" -> "+n.Name)
		}
		sort.Strings(nets)
		for _, n := range nets {
			fmt.Fprintf(&b, "  network: %s\n", n)
		}
		for _, w := range p.Warnings {
			fmt.Fprintf(&b, "  warning: %s\n", w)
		}
	}
	return b.String()
}

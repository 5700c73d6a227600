package units_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/units"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGolden renders every testdata/*.yaml project into unit files and
// compares them with testdata/<case>/<unit>; -update rewrites them.
func TestGolden(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.yaml")
	if len(inputs) == 0 {
		t.Fatal("no golden inputs")
	}
	cfg := units.Config{Binary: "/usr/local/bin/berth"}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		t.Run(name, func(t *testing.T) {
			p, err := compose.LoadProject(context.Background(), name, in)
			if err != nil {
				t.Fatal(err)
			}
			for i := range p.Services {
				svc := &p.Services[i]
				u := units.Service(cfg, svc, compose.SpecPath("/var/lib/berth", svc))
				if _, err := u.Properties(); err != nil {
					t.Fatalf("D-Bus properties: %v", err)
				}
				golden := filepath.Join("testdata", name, u.Name)
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, []byte(u.Text()), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./units -update)", err)
				}
				if got := u.Text(); got != string(want) {
					t.Errorf("%s differs from golden:\n--- got\n%s\n--- want\n%s", u.Name, got, want)
				}
			}
		})
	}
}

package units_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/units"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenCases are the inputs under testdata: a compose file (<case>.yaml)
// or a model project as JSON (<case>.json), for fields the compose loader
// does not read yet or that only Kubernetes input sets.
func goldenCases(t *testing.T) map[string]*compose.Project {
	t.Helper()
	inputs, _ := filepath.Glob("testdata/*.yaml")
	js, _ := filepath.Glob("testdata/*.json")
	inputs = append(inputs, js...)
	if len(inputs) == 0 {
		t.Fatal("no golden inputs")
	}
	out := map[string]*compose.Project{}
	for _, in := range inputs {
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(in), ".yaml"), ".json")
		if filepath.Ext(in) == ".yaml" {
			p, err := compose.LoadProject(context.Background(), name, in)
			if err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			out[name] = p
			continue
		}
		b, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		p := &compose.Project{}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(p); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		for i := range p.Services {
			if p.Services[i].Project == "" {
				p.Services[i].Project = name
			}
		}
		out[name] = p
	}
	return out
}

// TestGolden renders every testdata case into the unit files `generate
// systemd` writes and compares them with testdata/<case>/<unit>; -update
// rewrites them. Each file's D-Bus properties must be computable too.
func TestGolden(t *testing.T) {
	cfg := units.Config{Binary: "/usr/local/bin/berth"}
	for name, p := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			want := map[string]bool{}
			if *update {
				_ = os.RemoveAll(filepath.Join("testdata", name))
			} else {
				old, _ := filepath.Glob(filepath.Join("testdata", name, "*"))
				for _, o := range old {
					want[filepath.Base(o)] = true
				}
			}
			for i := range p.Services {
				svc := &p.Services[i]
				set, err := units.Build(cfg, svc, compose.SpecPath("/var/lib/berth", svc))
				if err != nil {
					t.Fatalf("%s: %v", svc.Name, err)
				}
				for _, u := range set.Files() {
					if _, err := u.Properties(); err != nil {
						t.Fatalf("D-Bus properties: %v", err)
					}
					golden := filepath.Join("testdata", name, u.Name)
					delete(want, u.Name)
					if *update {
						if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
							t.Fatal(err)
						}
						if err := os.WriteFile(golden, []byte(u.Text()), 0o644); err != nil {
							t.Fatal(err)
						}
						continue
					}
					exp, err := os.ReadFile(golden)
					if err != nil {
						t.Fatalf("%v (run go test ./units -update)", err)
					}
					if got := u.Text(); got != string(exp) {
						t.Errorf("%s differs from golden:\n--- got\n%s\n--- want\n%s", u.Name, got, exp)
					}
				}
			}
			for w := range want {
				t.Errorf("golden file %s is no longer generated (run -update)", w)
			}
		})
	}
}

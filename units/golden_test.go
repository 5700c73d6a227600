package units_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/units"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenCases are the inputs under testdata: a compose file (<case>.yaml)
// or a model project as JSON (<case>.json), for fields the compose loader
// does not read yet or that only Kubernetes input sets.
func goldenCases(t *testing.T) map[string]*model.Project {
	t.Helper()
	inputs, _ := filepath.Glob("testdata/*.yaml")
	js, _ := filepath.Glob("testdata/*.json")
	inputs = append(inputs, js...)
	if len(inputs) == 0 {
		t.Fatal("no golden inputs")
	}
	out := map[string]*model.Project{}
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
		p := &model.Project{}
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
				set, err := units.Build(cfg, svc, specPath(t, "/var/lib/berth", svc))
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

// TestGoldenAssertions checks the "# assert: UNIT Section.Key=Value" lines
// of the compose inputs against the built units: the last value of that
// key must equal Value (or, for list keys, one of its values must).
func TestGoldenAssertions(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.yaml")
	cases := goldenCases(t)
	cfg := units.Config{Binary: "/usr/local/bin/berth"}
	n := 0
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		b, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		built := map[string]*units.Unit{}
		for i := range cases[name].Services {
			svc := &cases[name].Services[i]
			set, err := units.Build(cfg, svc, specPath(t, "/var/lib/berth", svc))
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range set.Files() {
				built[u.Name] = u
			}
		}
		for _, line := range strings.Split(string(b), "\n") {
			rest, ok := strings.CutPrefix(line, "# assert: ")
			if !ok {
				continue
			}
			n++
			unitName, kv, _ := strings.Cut(rest, " ")
			key, want, _ := strings.Cut(kv, "=")
			section, opt, _ := strings.Cut(key, ".")
			u := built[unitName]
			if u == nil {
				t.Errorf("%s: %s: no such unit", in, rest)
				continue
			}
			found := false
			for _, o := range u.Options {
				if o.Section == section && o.Name == opt && o.Value == want {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: %s not found in\n%s", in, rest, u.Text())
			}
		}
	}
	if n == 0 {
		t.Fatal("no assertions found")
	}
}

// specPath is the spec store's path for a service the test knows is valid.
func specPath(t testing.TB, stateDir string, svc *model.Service) string {
	t.Helper()
	p, err := paths.New("", stateDir, "").SpecStore().Path(svc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

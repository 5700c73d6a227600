package units_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/coreos/go-systemd/v22/unit"

	"github.com/berth-dev/berth/units"
)

// TestFilesMatchTransient: for every golden case, the unit files (parsed
// back from their text, as systemd reads them) carry exactly the D-Bus
// properties of the transient units apply starts, and both cover the same
// units. Only [Install] differs, which transient units cannot have.
func TestFilesMatchTransient(t *testing.T) {
	cfg := units.Config{Binary: "/usr/local/bin/berth", RunDir: "/run/b", StateDir: "/var/lib/b"}
	for name, p := range goldenCases(t) {
		for i := range p.Services {
			svc := &p.Services[i]
			set, err := units.Build(cfg, svc, specPath(t, "/var/lib/b", svc))
			if err != nil {
				t.Fatal(err)
			}
			tr := set.Transient()
			transient := map[string]*units.Unit{tr.Name: tr}
			// An accepting socket's template is written as a runtime unit
			// file from the same Unit.
			for _, a := range append(slices.Clone(tr.Aux), tr.Files...) {
				transient[a.Name] = a
			}
			var fileNames []string
			for _, f := range set.Files() {
				fileNames = append(fileNames, f.Name)
				opts, err := unit.DeserializeOptions(strings.NewReader(f.Text()))
				if err != nil {
					t.Fatalf("%s/%s: parsing the file text: %v", name, f.Name, err)
				}
				parsed := &units.Unit{Name: f.Name, Options: opts}
				fp, err := parsed.Properties()
				if err != nil {
					t.Fatal(err)
				}
				tu, ok := transient[f.Name]
				if !ok {
					t.Errorf("%s: file %s has no transient counterpart", name, f.Name)
					continue
				}
				tp, err := tu.Properties()
				if err != nil {
					t.Fatal(err)
				}
				// Text groups options by section; order within a name is
				// kept, which is what systemd's lists depend on.
				byName := func(a, b sd.Property) int { return strings.Compare(a.Name, b.Name) }
				slices.SortStableFunc(fp, byName)
				slices.SortStableFunc(tp, byName)
				if !reflect.DeepEqual(fp, tp) {
					t.Errorf("%s/%s: file properties\n%v\ntransient\n%v", name, f.Name, fp, tp)
				}
			}
			var trNames []string
			for n := range transient {
				trNames = append(trNames, n)
			}
			slices.Sort(fileNames)
			slices.Sort(trNames)
			if !slices.Equal(fileNames, trNames) {
				t.Errorf("%s/%s: files %v, transient units %v", name, svc.Name, fileNames, trNames)
			}
		}
	}
}

package units_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/compose/kube"
	"github.com/berth-dev/berth/units"
)

// FuzzRender is TestInjection with fuzzed payloads: a value in any field
// that reaches a unit is refused at load with file:line, or the rendered
// unit file parses back to exactly the options it was rendered from.
func FuzzRender(f *testing.F) {
	for i := range injectionFields {
		for _, p := range payloads {
			f.Add(uint8(i), p)
		}
	}
	f.Fuzz(func(t *testing.T, field uint8, value string) {
		fl := injectionFields[int(field)%len(injectionFields)]
		if fl.wrap != nil {
			value = fl.wrap(value)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(fl.file(strconv.Quote(value))), 0o644); err != nil {
			t.Fatal(err)
		}
		entries, err := compose.LoadDir(context.Background(), dir, compose.WithKubeLoader(kube.Load), compose.WithUnitCheck(units.CheckProperty))
		if err != nil || len(entries) != 1 {
			t.Fatalf("LoadDir: %v, %d entries", err, len(entries))
		}
		e := entries[0]
		if e.Err != nil {
			if !fileLine.MatchString(e.Err.Error()) {
				t.Fatalf("%s refused without file:line: %v", fl.name, e.Err)
			}
			return
		}
		cfg := units.Config{Binary: "/bin/true", UnitFile: true}
		for i := range e.Project.Services {
			svc := &e.Project.Services[i]
			set, err := units.Build(cfg, svc, specPath(t, "/var/lib/berth", svc))
			if err != nil {
				t.Fatalf("%s: loaded, then refused by units.Build (no file:line): %v", fl.name, err)
			}
			for _, u := range set.Files() {
				checkDeserialize(t, u)
			}
		}
	})
}

package units_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/units"
)

// TestPersistent: the on-disk unit is the transient one plus [Install]; the
// transient unit is untouched and both send the same D-Bus properties.
func TestPersistent(t *testing.T) {
	p, err := compose.LoadProject(context.Background(), "hello", "testdata/hello.yaml")
	if err != nil {
		t.Fatal(err)
	}
	svc := &p.Services[0]
	u := units.Service(units.Config{Binary: "/usr/local/bin/berth"}, svc, specPath(t, "/var/lib/berth", svc))
	before := u.Text()
	pu := units.Persistent(u)
	if u.Text() != before {
		t.Fatal("Persistent changed the transient unit")
	}
	if want := before + "\n[Install]\nWantedBy=multi-user.target\n"; pu.Text() != want {
		t.Errorf("persistent text:\n%s\nwant:\n%s", pu.Text(), want)
	}
	if strings.Contains(before, "[Install]") {
		t.Error("transient unit has an [Install] section")
	}
	tp, err := u.Properties()
	if err != nil {
		t.Fatal(err)
	}
	pp, err := pu.Properties()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pp, tp) {
		t.Errorf("persistent properties %v, want %v", pp, tp)
	}
}

package network

import (
	"context"
	"os"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestAllocateLookupWritesNothing: `berth plan` (reserve false) fills in
// the addresses apply would reserve but leaves the state dir empty, and
// apply then reserves exactly those.
func TestAllocateLookupWritesNothing(t *testing.T) {
	a := Allocator{Paths: Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}}
	mk := func() []model.Entry {
		return []model.Entry{testProject("app", map[string]model.Network{"default": {}}, model.Service{Name: "web", Networks: att("")})}
	}
	looked := mk()
	if err := a.Allocate(context.Background(), looked, nil, false); err != nil || looked[0].Err != nil {
		t.Fatal(err, looked[0].Err)
	}
	if des, err := os.ReadDir(a.Paths.StateDir); err != nil || len(des) != 0 {
		t.Fatalf("a lookup wrote to the state dir: %v %v", des, err)
	}
	reserved := mk()
	if err := a.Allocate(context.Background(), reserved, nil, true); err != nil || reserved[0].Err != nil {
		t.Fatal(err, reserved[0].Err)
	}
	got, want := reserved[0].Project.Services[0].Networks["app_default"].IPv4, looked[0].Project.Services[0].Networks["app_default"].IPv4
	if got == "" || got != want {
		t.Fatalf("reserved %q, looked up %q", got, want)
	}
	if ms, err := a.Paths.Members("app_default"); err != nil || len(ms) != 1 || ms[0].IP != got {
		t.Fatalf("reservations: %+v %v", ms, err)
	}
}

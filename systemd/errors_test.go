package systemd

import (
	"errors"
	"fmt"
	"testing"

	"github.com/godbus/dbus/v5"
)

// TestErrorPredicates: the predicates go by the D-Bus error name through
// wrapping, for the value godbus returns and for a *dbus.Error, and never
// by the message (systemd words it differently between versions).
func TestErrorPredicates(t *testing.T) {
	named := func(name string) error {
		return fmt.Errorf("stopping unit x.service: %w", dbus.Error{Name: name, Body: []any{"Unit x.service not loaded."}})
	}
	for _, tc := range []struct {
		err                         error
		noUnit, noJob, exists, gone bool
	}{
		{named("org.freedesktop.systemd1.NoSuchUnit"), true, false, false, true},
		{fmt.Errorf("reading: %w", dbus.NewError("org.freedesktop.systemd1.NoSuchUnit", nil)), true, false, false, true},
		{named("org.freedesktop.systemd1.NoSuchJob"), false, true, false, false},
		{named("org.freedesktop.systemd1.UnitExists"), false, false, true, false},
		{named("org.freedesktop.DBus.Error.UnknownObject"), false, false, false, true},
		{named("org.freedesktop.DBus.Error.AccessDenied"), false, false, false, false},
		{errors.New("org.freedesktop.systemd1.NoSuchUnit: Unit x.service not loaded."), false, false, false, false},
		{nil, false, false, false, false},
	} {
		got := [4]bool{IsNoSuchUnit(tc.err), IsNoSuchJob(tc.err), IsUnitExists(tc.err), IsGone(tc.err)}
		if want := [4]bool{tc.noUnit, tc.noJob, tc.exists, tc.gone}; got != want {
			t.Errorf("%v: NoSuchUnit/NoSuchJob/UnitExists/Gone = %v, want %v", tc.err, got, want)
		}
	}
}

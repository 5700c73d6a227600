// Package units translates the model into systemd units: one ordered list of
// options that renders both as unit-file text and as D-Bus properties for
// transient units. It does no I/O.
package units

import (
	"io"

	"github.com/coreos/go-systemd/v22/unit"
)

// Unit is a named, ordered list of unit options.
type Unit struct {
	Name    string
	Options []*unit.UnitOption
	// Aux are units created together with this one when it is started as
	// a transient unit (StartTransientUnit's aux argument), but started
	// only through dependencies: a socket's service, a health timer.
	Aux []*Unit
	// Files are units written as runtime unit files (see
	// systemd.Client.WriteRuntimeUnit) before this one starts, because
	// they cannot be transient: an accepting socket's template service.
	Files []*Unit
}

func (u *Unit) add(section, name, value string) {
	u.Options = append(u.Options, unit.NewUnitOption(section, name, value))
}

// Check refuses a unit whose text would not mean what its options say: a
// value holding a control character or ending in a backslash. Build checks
// its units; a caller rendering a unit made otherwise (Pod) checks it.
func (u *Unit) Check() error { return checkValues(u) }

// Text renders the unit as a unit file.
func (u *Unit) Text() string {
	b, _ := io.ReadAll(unit.SerializeSections(sections(u.Options)))
	return string(b)
}

// Value returns the last value of section.name, and whether it is set.
func (u *Unit) Value(section, name string) (string, bool) {
	v, ok := "", false
	for _, o := range u.Options {
		if o.Section == section && o.Name == name {
			v, ok = o.Value, true
		}
	}
	return v, ok
}

// sections groups options by section, keeping first-seen section order.
func sections(opts []*unit.UnitOption) []*unit.UnitSection {
	var out []*unit.UnitSection
	idx := map[string]*unit.UnitSection{}
	for _, o := range opts {
		s, ok := idx[o.Section]
		if !ok {
			s = &unit.UnitSection{Section: o.Section}
			idx[o.Section] = s
			out = append(out, s)
		}
		s.Entries = append(s.Entries, &unit.UnitEntry{Name: o.Name, Value: o.Value})
	}
	return out
}

// Name is the unit name of a project's service: berth-<project>-<service>,
// each part escaped as systemd escapes names.
func Name(project, service string) string {
	return Prefix + escape(project) + "-" + escape(service) + ".service"
}

// Prefix starts the name of every unit berth owns.
const Prefix = "berth-"

// escape is systemd-escape: '-' inside a part becomes \x2d, so the split
// between project and service stays unambiguous.
func escape(s string) string { return unit.UnitNameEscape(s) }

package units

import (
	"fmt"
	"slices"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// extraAllowed are the unit properties x-berth.unit may set, by section.
// They tune ordering, scheduling and limits; nothing here can change how
// berth starts, tracks or cleans up the container (ExecStart=, Type=,
// PIDFile=, KillMode=, Delegate= …), which stay berth's.
var extraAllowed = map[string]string{
	"After": "Unit", "Before": "Unit", "Wants": "Unit", "Requires": "Unit",
	"BindsTo": "Unit", "PartOf": "Unit", "Conflicts": "Unit",
	"StartLimitBurst": "Unit", "StartLimitIntervalSec": "Unit",
	"CPUWeight": "Service", "IOWeight": "Service", "MemoryHigh": "Service",
	"Nice": "Service", "OOMScoreAdjust": "Service", "LimitNOFILE": "Service",
	"TimeoutStartSec": "Service", "RestartSec": "Service", "WatchdogSec": "Service",
}

// AllowedUnitProperties lists what x-berth.unit accepts, sorted.
func AllowedUnitProperties() []string {
	names := make([]string, 0, len(extraAllowed))
	for n := range extraAllowed {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// extra appends the x-berth.unit properties after berth's own, so a scalar
// one overrides berth's value and a list one adds to it. A property outside
// the allow-list, or a value systemd would refuse, is an error naming it.
func extra(u *Unit, svc *model.Service) error {
	names := make([]string, 0, len(svc.Unit))
	for n := range svc.Unit {
		names = append(names, n)
	}
	slices.Sort(names)
	var bad []string
	for _, n := range names {
		section, ok := extraAllowed[n]
		if !ok {
			bad = append(bad, n)
			continue
		}
		for _, v := range svc.Unit[n] {
			if err := CheckProperty(n, v); err != nil {
				return fmt.Errorf("x-berth.unit.%s: %w", n, err)
			}
			if isUnitList(n) {
				v = printf(v)
			}
			u.add(section, n, v)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("x-berth.unit: unsupported propert%s %s (allowed: %s)",
			plural(len(bad), "y", "ies"), strings.Join(bad, ", "), strings.Join(AllowedUnitProperties(), ", "))
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// CheckProperty checks one x-berth.unit value as Build will: the property
// is on the allow-list, and the value can neither end its line in a unit
// file nor continue it (a control character, since systemd ends lines at
// '\n' and at '\r'; a trailing backslash), lists only unit names where
// systemd expects them, and parses as the property's type. cmd/berth passes
// it to the loader (compose.WithUnitCheck), which reports file and line.
func CheckProperty(name, value string) error {
	if _, ok := extraAllowed[name]; !ok {
		return fmt.Errorf("unsupported property %s (allowed: %s)", name, strings.Join(AllowedUnitProperties(), ", "))
	}
	if err := checkExtra(value); err != nil {
		return err
	}
	if isUnitList(name) {
		for _, w := range strings.Fields(value) {
			if !unitNameWord(w) {
				return fmt.Errorf("%q is not a unit name", w)
			}
		}
		value = printf(value)
	}
	if _, _, err := propertyTable[name](value); err != nil {
		return fmt.Errorf("%q: %w", value, err)
	}
	return nil
}

// isUnitList tells the allowed properties that list unit names, in which
// systemd expands specifiers.
func isUnitList(name string) bool {
	return extraAllowed[name] == "Unit" && !strings.HasPrefix(name, "StartLimit")
}

func checkExtra(v string) error {
	for i, r := range v {
		if control(r) {
			return fmt.Errorf("value %q contains the control character %U at byte %d", v, r, i)
		}
	}
	if strings.HasSuffix(v, `\`) {
		return fmt.Errorf("value %q ends in a backslash, which would continue the line", v)
	}
	return nil
}

// unitNameWord tells whether w has only the characters systemd allows in
// unit names (letters, digits, ":-_.\\" and '@' for instances) and ends in
// a unit type.
func unitNameWord(w string) bool {
	i := strings.LastIndex(w, ".")
	if i <= 0 || !unitTypes[w[i+1:]] {
		return false
	}
	for _, r := range w {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":-_.\\@", r)
		if !ok {
			return false
		}
	}
	return true
}

// unitTypes are the suffixes of systemd unit names.
var unitTypes = map[string]bool{"service": true, "socket": true, "target": true, "device": true, "mount": true,
	"automount": true, "swap": true, "timer": true, "path": true, "slice": true, "scope": true}

package units

import "slices"

// WantedBy is the target a persistent unit is enabled into.
const WantedBy = "multi-user.target"

// Persistent returns a copy of u for writing to disk: the same [Unit] and
// [Service] options as the transient unit, plus an [Install] section so that
// `systemctl enable` starts it at boot without berth's agent. u itself is
// not changed; Properties skips the Install section, which has no D-Bus
// counterpart (transient units cannot be enabled).
func Persistent(u *Unit) *Unit { return persistent(u, WantedBy) }

func persistent(u *Unit, target string) *Unit {
	p := &Unit{Name: u.Name, Options: slices.Clone(u.Options)}
	p.add("Install", "WantedBy", target)
	return p
}

package systemd

import (
	"errors"

	"github.com/godbus/dbus/v5"
)

// The D-Bus error names berth tells apart. systemd sends them as the
// error's Name; the message is prose and changes between versions.
const (
	errNoSuchUnit    = "org.freedesktop.systemd1.NoSuchUnit"
	errNoSuchJob     = "org.freedesktop.systemd1.NoSuchJob"
	errUnitExists    = "org.freedesktop.systemd1.UnitExists"
	errUnknownObject = "org.freedesktop.DBus.Error.UnknownObject"
)

// dbusName returns the D-Bus error name err carries, or "".
func dbusName(err error) string {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	var pde *dbus.Error
	if errors.As(err, &pde) && pde != nil {
		return pde.Name
	}
	return ""
}

// IsNoSuchUnit reports whether err is systemd saying that no unit of that
// name is loaded.
func IsNoSuchUnit(err error) bool { return dbusName(err) == errNoSuchUnit }

// IsNoSuchJob reports whether err is systemd saying that the job is gone
// (it finished or was never queued).
func IsNoSuchJob(err error) bool { return dbusName(err) == errNoSuchJob }

// IsUnitExists reports whether err is systemd refusing a transient unit
// because one of that name is still loaded.
func IsUnitExists(err error) bool { return dbusName(err) == errUnitExists }

// IsGone reports whether err says the unit went away under the caller: not
// loaded any more, or its object path vanished between a list and a read.
func IsGone(err error) bool {
	switch dbusName(err) {
	case errNoSuchUnit, errUnknownObject:
		return true
	}
	return false
}

package units

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// property converts one unit-file option into its D-Bus property; a few
// options accumulate (lists), which Properties merges.
type property func(value string) (string, any, error)

// propertyTable maps unit-file names to D-Bus property names and types, per
// org.freedesktop.systemd1(5). An option missing here cannot be sent to
// systemd, and Properties says so rather than dropping it.
var propertyTable = map[string]property{
	"Description":           str("Description"),
	"After":                 list("After"),
	"Before":                list("Before"),
	"Requires":              list("Requires"),
	"Wants":                 list("Wants"),
	"BindsTo":               list("BindsTo"),
	"PartOf":                list("PartOf"),
	"Conflicts":             list("Conflicts"),
	"StartLimitBurst":       u32("StartLimitBurst"),
	"StartLimitIntervalSec": usec("StartLimitIntervalUSec"),
	"Type":                  str("Type"),
	"ExecStart":             exec("ExecStart"),
	"ExecStop":              exec("ExecStop"),
	"ExecStopPost":          exec("ExecStopPost"),
	"SyslogIdentifier":      str("SyslogIdentifier"),
	"Environment":           words("Environment"),
	"Delegate":              boolean("Delegate"),
	"KillMode":              str("KillMode"),
	"KillSignal":            signal("KillSignal"),
	"TimeoutStopSec":        usec("TimeoutStopUSec"),
	"TimeoutStartSec":       usec("TimeoutStartUSec"),
	"Restart":               str("Restart"),
	"RestartSec":            usec("RestartUSec"),
	"MemoryMax":             u64("MemoryMax"),
	"TasksMax":              u64("TasksMax"),
	"CPUQuota":              cpuQuota,
	"NotifyAccess":          str("NotifyAccess"),
	"PIDFile":               str("PIDFile"),
	"RemainAfterExit":       boolean("RemainAfterExit"),
	"MemoryLow":             u64("MemoryLow"),
	"MemoryHigh":            u64("MemoryHigh"),
	"MemorySwapMax":         u64("MemorySwapMax"),
	"CPUWeight":             u64("CPUWeight"),
	"IOWeight":              u64("IOWeight"),
	"Nice":                  i32("Nice"),
	"OOMScoreAdjust":        i32("OOMScoreAdjust"),
	"LimitNOFILE":           u64("LimitNOFILE"),
	"WatchdogSec":           usec("WatchdogUSec"),

	// Secrets with no source left at start (see model.Credential).
	"LoadCredentialEncrypted": credential("LoadCredentialEncrypted"),

	// [Socket]
	"ListenStream":       listen("Stream"),
	"ListenDatagram":     listen("Datagram"),
	"FileDescriptorName": str("FileDescriptorName"),
	"Accept":             boolean("Accept"),
	"CollectMode":        str("CollectMode"),

	// [Timer]
	"OnActiveSec":       monotonic("OnActiveSec"),
	"OnUnitInactiveSec": monotonic("OnUnitInactiveSec"),
	"AccuracySec":       usec("AccuracyUSec"),
}

// Properties renders the unit as D-Bus properties for StartTransientUnit.
func (u *Unit) Properties() ([]sd.Property, error) {
	if err := checkValues(u); err != nil {
		return nil, err
	}
	var props []sd.Property
	at := map[string]int{}
	for _, o := range u.Options {
		if o.Section == "Install" {
			continue // enablement only; transient units cannot be enabled
		}
		conv, ok := propertyTable[o.Name]
		if !ok {
			return nil, fmt.Errorf("unit %s: option %s= has no D-Bus mapping", u.Name, o.Name)
		}
		name, v, err := conv(o.Value)
		if err != nil {
			return nil, fmt.Errorf("unit %s: %s=%s: %w", u.Name, o.Name, o.Value, err)
		}
		if i, seen := at[name]; seen {
			if merged, ok := appendValue(props[i].Value.Value(), v); ok {
				props[i].Value = dbus.MakeVariant(merged)
				continue
			}
			props[i].Value = dbus.MakeVariant(v) // later assignment wins
			continue
		}
		at[name] = len(props)
		props = append(props, sd.Property{Name: name, Value: dbus.MakeVariant(v)})
	}
	return props, nil
}

func appendValue(have, add any) (any, bool) {
	switch h := have.(type) {
	case []string:
		return append(h, add.([]string)...), true
	case []execCommand:
		return append(h, add.([]execCommand)...), true
	case []listenAddress:
		return append(h, add.([]listenAddress)...), true
	case []timerMonotonic:
		return append(h, add.([]timerMonotonic)...), true
	case []credentialPath:
		return append(h, add.([]credentialPath)...), true
	}
	return nil, false
}

// str is a string setting; systemd expands specifiers in the file, so '%%'
// is a literal '%' (see printf).
func str(name string) property {
	return func(v string) (string, any, error) { return name, unprintf(v), nil }
}

// list is a space-separated list of unit names.
func list(name string) property {
	return func(v string) (string, any, error) {
		f := strings.Fields(v)
		for i := range f {
			f[i] = unprintf(f[i])
		}
		return name, f, nil
	}
}

// words is a list of possibly quoted words, as envLine writes
// Environment= assignments.
func words(name string) property {
	return func(v string) (string, any, error) {
		w, err := splitWords(v)
		if err != nil {
			return name, nil, err
		}
		for i := range w {
			w[i] = unprintf(w[i])
		}
		return name, w, nil
	}
}

func boolean(name string) property {
	return func(v string) (string, any, error) {
		switch v {
		case "yes", "true", "on", "1":
			return name, true, nil
		case "no", "false", "off", "0":
			return name, false, nil
		}
		return name, nil, fmt.Errorf("not a boolean: %q", v)
	}
}

func u32(name string) property {
	return func(v string) (string, any, error) {
		n, err := strconv.ParseUint(v, 10, 32)
		return name, uint32(n), err
	}
}

func i32(name string) property {
	return func(v string) (string, any, error) {
		n, err := strconv.ParseInt(v, 10, 32)
		return name, int32(n), err
	}
}

// u64 reads a count or a size in bytes, with systemd's "infinity" and
// base-1024 suffixes K, M, G, T.
func u64(name string) property {
	return func(v string) (string, any, error) {
		if v == "infinity" {
			return name, uint64(1<<64 - 1), nil
		}
		mult := uint64(1)
		if i := strings.IndexAny(v, "KMGT"); i > 0 && i == len(v)-1 {
			mult = 1 << (10 * (1 + strings.IndexByte("KMGT", v[i])))
			v = v[:i]
		}
		n, err := strconv.ParseUint(v, 10, 64)
		return name, n * mult, err
	}
}

// listenAddress is one entry of a socket's Listen a(ss) property: the
// kind ("Stream", "Datagram") and the address.
type listenAddress struct {
	Type    string
	Address string
}

// timerMonotonic is one entry of a timer's TimersMonotonic a(st) property,
// as systemd-run sends OnActiveSec= and its kin: the base's unit-file name
// and the span in microseconds.
type timerMonotonic struct {
	Base string
	USec uint64
}

func monotonic(base string) property {
	return func(v string) (string, any, error) {
		_, us, err := usec(base)(v)
		if err != nil {
			return "TimersMonotonic", nil, err
		}
		return "TimersMonotonic", []timerMonotonic{{Base: base, USec: us.(uint64)}}, nil
	}
}

func listen(kind string) property {
	return func(v string) (string, any, error) {
		if v == "" {
			return "Listen", nil, fmt.Errorf("empty address")
		}
		return "Listen", []listenAddress{{Type: kind, Address: unprintf(v)}}, nil
	}
}

// usec parses systemd time spans as used here: "infinity", "0", plain
// seconds ("10", "1.5") or Go-style durations ("100ms", "5min").
func usec(name string) property {
	return func(v string) (string, any, error) {
		if v == "infinity" {
			return name, uint64(1<<64 - 1), nil
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return name, uint64(f * 1e6), nil
		}
		d, err := time.ParseDuration(strings.ReplaceAll(v, "min", "m"))
		return name, uint64(d.Microseconds()), err
	}
}

func signal(name string) property {
	return func(v string) (string, any, error) {
		n := unix.SignalNum(v)
		if n == 0 {
			return name, nil, fmt.Errorf("unknown signal %q", v)
		}
		return name, int32(n), nil
	}
}

// cpuQuota maps "150%" to CPUQuotaPerSecUSec, as systemctl does.
func cpuQuota(v string) (string, any, error) {
	pct, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
	return "CPUQuotaPerSecUSec", uint64(pct * 10000), err
}

// execCommand is systemd's (sasb) exec tuple; the bool is IgnoreFailure.
type execCommand struct {
	Path          string
	Args          []string
	IgnoreFailure bool
}

// exec splits a command line the way execLine writes it. Specifiers are
// expanded ('%%' is '%'); "$$" stays, since systemd substitutes environment
// variables in D-Bus commands at exec time too.
func exec(name string) property {
	return func(v string) (string, any, error) {
		args, err := splitWords(v)
		if err != nil {
			return name, nil, err
		}
		if len(args) == 0 {
			return name, nil, fmt.Errorf("empty command")
		}
		for i := range args {
			args[i] = unprintf(args[i])
		}
		return name, []execCommand{{Path: args[0], Args: args}}, nil
	}
}

// credentialPath is one ID:PATH of LoadCredential(Encrypted)=, a(ss) on
// the bus.
type credentialPath struct{ ID, Path string }

func credential(name string) property {
	return func(v string) (string, any, error) {
		id, path, ok := strings.Cut(unprintf(v), ":")
		if !ok || id == "" || path == "" {
			return "", nil, fmt.Errorf("want ID:PATH")
		}
		return name, []credentialPath{{id, path}}, nil
	}
}

package systemdtest

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/systemd"
)

// Fake is an in-memory systemd for unit tests, held to the conformance
// suite (Run). It runs nothing: a unit's ExecStart is judged by its
// program's name — "false" exits 1, "true" exits 0, anything else (sleep,
// berth-launcher) keeps running — and Type= decides whether the start job
// waits for the exit (oneshot) or the unit fails after a successful start
// (simple, exec, forking). A stopped or reset transient unit is unloaded at
// once, as systemd's garbage collection does soon after. Safe for
// concurrent use; the zero value is an empty systemd.
type Fake struct {
	mu    sync.Mutex
	units map[string]*fakeUnit
	pid   int
	job   int
	// BeforeStart and BeforeStop, when set, run before each start or
	// stop (outside the lock): tests record calls or hold them there.
	BeforeStart func(name string) error
	BeforeStop  func(name string)
}

type fakeUnit struct {
	unit systemd.Unit
	argv []string
	refs []string // the units its Wants=, Requires= and After= name
}

// referenced tells whether a loaded unit other than name names it, which
// keeps name loaded after it stops, as in systemd.
func (f *Fake) referenced(name string) bool {
	for n, u := range f.units {
		if n != name && slices.Contains(u.refs, name) {
			return true
		}
	}
	return false
}

// unload drops a stopped unit, or keeps it loaded and inactive while
// another unit names it.
func (f *Fake) unload(name string, argv []string) {
	u, ok := f.units[name]
	if !f.referenced(name) {
		delete(f.units, name)
		return
	}
	if !ok {
		u = &fakeUnit{unit: systemd.Unit{Name: name, LoadState: "loaded", Environment: map[string]string{},
			Limits: systemd.Limits{MemoryMax: systemd.Infinity, TasksMax: systemd.Infinity, CPUQuotaPerSecUSec: systemd.Infinity}}, argv: argv}
		f.units[name] = u
	}
	u.unit.ActiveState, u.unit.SubState, u.unit.MainPID = "inactive", "dead", 0
}

// NewFake returns an empty Fake.
func NewFake() *Fake { return &Fake{units: map[string]*fakeUnit{}} }

func dbusErr(name, format string, args ...any) dbus.Error {
	return dbus.Error{Name: name, Body: []any{fmt.Sprintf(format, args...)}}
}

// StartTransient implements Manager as systemd.Client does: a failed
// instance of the same name is replaced, a running one refused.
func (f *Fake) StartTransient(ctx context.Context, name string, props []sd.Property, aux ...sd.PropertyCollection) error {
	if f.BeforeStart != nil {
		if err := f.BeforeStart(name); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.units == nil {
		f.units = map[string]*fakeUnit{}
	}
	if old, ok := f.units[name]; ok {
		if old.unit.ActiveState == "inactive" && len(aux) == 0 && slices.Equal(old.argv, systemd.ExecArgv(props)) {
			// Stopped, kept loaded by a reference: started as it is.
			f.pid++
			old.unit.ActiveState, old.unit.SubState, old.unit.Result = "active", "running", "success"
			old.unit.MainPID, old.unit.Since = f.pid, time.Now()
			return nil
		}
		if old.unit.ActiveState != "failed" {
			return fmt.Errorf("starting unit %s: %w", name, dbusErr("org.freedesktop.systemd1.UnitExists", "Unit %s already exists.", name))
		}
		delete(f.units, name)
	}
	u := &fakeUnit{unit: systemd.Unit{Name: name, LoadState: "loaded", Environment: map[string]string{},
		Limits: systemd.Limits{MemoryMax: systemd.Infinity, TasksMax: systemd.Infinity, CPUQuotaPerSecUSec: systemd.Infinity}}}
	typ, argv := "simple", []string(nil)
	for _, p := range props {
		switch v := p.Value.Value(); p.Name {
		case "Type":
			typ, _ = v.(string)
		case "ExecStart":
			argv = systemd.ExecArgv(props)
			u.argv = argv
		case "Wants", "Requires", "After":
			names, _ := v.([]string)
			u.refs = append(u.refs, names...)
		case "Environment":
			env, _ := v.([]string)
			for _, kv := range env {
				k, val, _ := strings.Cut(kv, "=")
				u.unit.Environment[k] = val
			}
		case "MemoryMax":
			u.unit.Limits.MemoryMax, _ = v.(uint64)
		case "TasksMax":
			u.unit.Limits.TasksMax, _ = v.(uint64)
		case "CPUQuotaPerSecUSec":
			u.unit.Limits.CPUQuotaPerSecUSec, _ = v.(uint64)
		}
	}
	for _, a := range aux {
		f.units[a.Name] = &fakeUnit{unit: systemd.Unit{Name: a.Name, LoadState: "loaded",
			ActiveState: "inactive", SubState: "dead", Result: "success", Environment: map[string]string{},
			Limits: systemd.Limits{MemoryMax: systemd.Infinity, TasksMax: systemd.Infinity, CPUQuotaPerSecUSec: systemd.Infinity}}}
	}
	f.job++
	exit := -1 // keeps running
	if len(argv) > 0 {
		switch path.Base(argv[0]) {
		case "true":
			exit = 0
		case "false":
			exit = 1
		}
	}
	switch {
	case exit == 1:
		u.unit.ActiveState, u.unit.SubState, u.unit.Result = "failed", "failed", "exit-code"
		f.units[name] = u
		if typ == "oneshot" {
			return &systemd.JobError{Verb: "starting", Unit: name, Job: f.job, Result: "failed"}
		}
	case exit == 0:
		// Ran and ended: an inactive transient unit is unloaded.
		f.units[name] = u
		f.unload(name, argv)
	default:
		f.pid++
		u.unit.ActiveState, u.unit.SubState, u.unit.Result = "active", "running", "success"
		u.unit.MainPID, u.unit.Since = f.pid, time.Now()
		f.units[name] = u
	}
	return nil
}

// Stop implements Manager: a missing unit counts as stopped; a stopped
// transient unit is unloaded.
func (f *Fake) Stop(ctx context.Context, name string) error {
	if f.BeforeStop != nil {
		f.BeforeStop(name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, ok := f.units[name]; ok {
		f.unload(name, u.argv)
	}
	return nil
}

// Restart implements Manager: a missing unit is a NoSuchUnit error.
func (f *Fake) Restart(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.units[name]
	if !ok {
		return fmt.Errorf("restarting unit %s: %w", name, dbusErr("org.freedesktop.systemd1.NoSuchUnit", "Unit %s not found.", name))
	}
	f.pid++
	u.unit.ActiveState, u.unit.SubState, u.unit.Result = "active", "running", "success"
	u.unit.MainPID, u.unit.Since = f.pid, time.Now()
	return nil
}

// ResetFailed implements Manager: a failed unit is unloaded, any other
// left alone.
func (f *Fake) ResetFailed(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, ok := f.units[name]; ok && u.unit.ActiveState == "failed" {
		f.unload(name, u.argv)
	}
	return nil
}

// List implements Manager, filling only the properties o.Props names.
func (f *Fake) List(ctx context.Context, o systemd.ListOptions) ([]systemd.Unit, error) {
	for _, p := range o.Props {
		if !slices.Contains(systemd.AllProps, p) {
			return nil, fmt.Errorf("listing units: unknown property %q", p)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []systemd.Unit
	for _, fu := range f.units {
		u := fu.unit
		if !matchAny(o.Patterns, u.Name) || (len(o.States) > 0 &&
			!slices.Contains(o.States, u.LoadState) && !slices.Contains(o.States, u.ActiveState) && !slices.Contains(o.States, u.SubState)) {
			continue
		}
		out = append(out, only(u, o.Props))
	}
	slices.SortFunc(out, func(a, b systemd.Unit) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func matchAny(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// only is u with the fields of properties not in props zeroed, as a
// listing that did not read them returns them.
func only(u systemd.Unit, props []string) systemd.Unit {
	out := systemd.Unit{Name: u.Name, LoadState: u.LoadState, ActiveState: u.ActiveState, SubState: u.SubState,
		Environment: map[string]string{},
		Limits:      systemd.Limits{MemoryMax: systemd.Infinity, TasksMax: systemd.Infinity, CPUQuotaPerSecUSec: systemd.Infinity}}
	for _, p := range props {
		switch p {
		case systemd.PropEnvironment:
			for k, v := range u.Environment {
				out.Environment[k] = v
			}
		case systemd.PropMemoryMax:
			out.Limits.MemoryMax = u.Limits.MemoryMax
		case systemd.PropTasksMax:
			out.Limits.TasksMax = u.Limits.TasksMax
		case systemd.PropCPUQuotaPerSecUSec:
			out.Limits.CPUQuotaPerSecUSec = u.Limits.CPUQuotaPerSecUSec
		case systemd.PropMainPID:
			out.MainPID = u.MainPID
		case systemd.PropNRestarts:
			out.Restarts = u.Restarts
		case systemd.PropResult:
			out.Result = u.Result
		case systemd.PropControlGroup:
			out.ControlGroup = u.ControlGroup
		case systemd.PropActiveEnterTimestamp:
			out.Since = u.Since
		}
	}
	return out
}

// Get implements Manager: every property; a missing unit reads as
// not-found and inactive.
func (f *Fake) Get(ctx context.Context, name string) (*systemd.Unit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, ok := f.units[name]; ok {
		out := only(u.unit, systemd.AllProps)
		return &out, nil
	}
	return &systemd.Unit{Name: name, LoadState: "not-found", ActiveState: "inactive", SubState: "dead", Environment: map[string]string{},
		Limits: systemd.Limits{MemoryMax: systemd.Infinity, TasksMax: systemd.Infinity, CPUQuotaPerSecUSec: systemd.Infinity}}, nil
}

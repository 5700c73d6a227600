// Package systemdtest holds the conformance suite every implementation of
// the systemd client berth drives must pass — the real client against a
// sandboxed systemd (hack/e2e) and the in-memory Fake the unit tests use —
// so that what the fake does is what systemd does.
package systemdtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/systemd"
)

// Manager is the systemd client as berth uses it: *systemd.Client and
// *Fake satisfy it.
type Manager interface {
	StartTransient(ctx context.Context, name string, props []sd.Property, aux ...sd.PropertyCollection) error
	Stop(ctx context.Context, name string) error
	Restart(ctx context.Context, name string) error
	ResetFailed(ctx context.Context, name string) error
	List(ctx context.Context, o systemd.ListOptions) ([]systemd.Unit, error)
	Get(ctx context.Context, name string) (*systemd.Unit, error)
}

var (
	_ Manager = (*systemd.Client)(nil)
	_ Manager = (*Fake)(nil)
)

// runs numbers the suite's runs, so that the unit names of two runs on one
// systemd differ.
var runs atomic.Int64

// Run runs the conformance suite against the Managers newManager makes,
// one per subtest. Units are named sdtest-<run>-<case>.service and are
// stopped at the end of each subtest. The programs the units run are
// /bin/sleep, /bin/true and /bin/false, which the Fake knows by name.
func Run(t *testing.T, newManager func(t *testing.T) Manager) {
	prefix := fmt.Sprintf("sdtest-%d-", runs.Add(1))
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, m Manager, unit string)
	}{
		{"StartListsPropertiesAndEnvironment", testStartLists},
		{"StopUnloadsTheTransientUnit", testStopUnloads},
		{"MissingUnit", testMissingUnit},
		{"FailingJobIsJobError", testFailingJob},
		{"ExitAfterStartIsFailedUnit", testExitAfterStart},
		{"StartOverFailedUnit", testStartOverFailed},
		{"StartOverRunningUnitIsUnitExists", testStartOverRunning},
		{"StartOverStoppedReferencedUnit", testStartOverReferenced},
		{"RestartGivesNewMainPID", testRestart},
		{"ListFiltersByPatternAndState", testListFilters},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t)
			unit := prefix + tc.name + ".service"
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				for _, u := range []string{unit, prefix + tc.name + "-b.service"} {
					if err := m.Stop(ctx, u); err != nil {
						t.Errorf("cleanup: %v", err)
					}
				}
			})
			tc.fn(t, m, unit)
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// service is a transient service's properties running argv.
func service(typ string, argv ...string) []sd.Property {
	return []sd.Property{
		sd.PropDescription("berth systemd conformance"),
		sd.PropType(typ),
		sd.PropExecStart(argv, false),
		{Name: "Environment", Value: dbus.MakeVariant([]string{"BERTH_PROJECT=conf", "BERTH_SPEC_HASH=abc=def"})},
		{Name: "MemoryMax", Value: dbus.MakeVariant(uint64(64 << 20))},
	}
}

// get lists the one unit by its name with every property read; nil when
// it is not listed.
func get(t *testing.T, m Manager, unit string) *systemd.Unit {
	t.Helper()
	us, err := m.List(ctxFor(t), systemd.ListOptions{Patterns: []string{unit}, Props: systemd.AllProps})
	if err != nil {
		t.Fatalf("listing %s: %v", unit, err)
	}
	for i := range us {
		if us[i].Name == unit {
			return &us[i]
		}
	}
	return nil
}

// eventually polls cond for up to 10 s: systemd finishes some transitions
// (a unit's garbage collection, a process's exit) after the job returns.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustStart(t *testing.T, m Manager, unit string, props []sd.Property) {
	t.Helper()
	if err := m.StartTransient(ctxFor(t), unit, props); err != nil {
		t.Fatalf("starting %s: %v", unit, err)
	}
}

// testStartLists: a started long-running service is listed active/running
// with a main PID, the environment it was given (values may hold '='),
// the limit it was given, and Infinity for a limit it was not.
func testStartLists(t *testing.T, m Manager, unit string) {
	mustStart(t, m, unit, service("exec", "/bin/sleep", "3600"))
	u := get(t, m, unit)
	if u == nil {
		t.Fatalf("%s is not listed after its start", unit)
	}
	if u.LoadState != "loaded" || u.ActiveState != "active" || u.SubState != "running" {
		t.Errorf("states %s/%s/%s, want loaded/active/running", u.LoadState, u.ActiveState, u.SubState)
	}
	if u.MainPID <= 0 {
		t.Errorf("MainPID %d", u.MainPID)
	}
	if u.Environment["BERTH_PROJECT"] != "conf" || u.Environment["BERTH_SPEC_HASH"] != "abc=def" {
		t.Errorf("environment %v", u.Environment)
	}
	if u.Limits.MemoryMax != 64<<20 || u.Limits.CPUQuotaPerSecUSec != systemd.Infinity {
		t.Errorf("limits %+v, want MemoryMax 64 MiB and no CPU quota", u.Limits)
	}
	if u.Since.IsZero() || time.Since(u.Since) > time.Minute {
		t.Errorf("active since %v", u.Since)
	}
	if u.Result != "success" || u.Restarts != 0 {
		t.Errorf("result %q, restarts %d", u.Result, u.Restarts)
	}
	if u.Failing() {
		t.Error("a running unit counts as failing")
	}
	g, err := m.Get(ctxFor(t), unit)
	if err != nil {
		t.Fatal(err)
	}
	if g.ActiveState != u.ActiveState || g.MainPID != u.MainPID || g.Environment["BERTH_SPEC_HASH"] != "abc=def" || g.Limits != u.Limits {
		t.Errorf("Get %+v disagrees with List %+v", g, u)
	}
	// Only what was asked for is read.
	us, err := m.List(ctxFor(t), systemd.ListOptions{Patterns: []string{unit}, Props: []string{systemd.PropEnvironment}})
	if err != nil || len(us) != 1 {
		t.Fatalf("listing with Environment only: %v %v", us, err)
	}
	if us[0].Environment["BERTH_PROJECT"] != "conf" || us[0].MainPID != 0 || us[0].Limits.MemoryMax != systemd.Infinity {
		t.Errorf("listing with Environment only read %+v", us[0])
	}
	if _, err := m.List(ctxFor(t), systemd.ListOptions{Props: []string{"Bogus"}}); err == nil {
		t.Error("listing an unknown property: no error")
	}
}

// testStopUnloadsTheTransientUnit: a stopped transient unit goes away, so
// a unit of the same name can be started again.
func testStopUnloads(t *testing.T, m Manager, unit string) {
	mustStart(t, m, unit, service("exec", "/bin/sleep", "3600"))
	if err := m.Stop(ctxFor(t), unit); err != nil {
		t.Fatal(err)
	}
	eventually(t, unit+" is unloaded after its stop", func() bool { return get(t, m, unit) == nil })
	mustStart(t, m, unit, service("exec", "/bin/sleep", "3600"))
}

// testMissingUnit: stopping or resetting a unit that does not exist is
// not an error; reading it gives LoadState not-found; restarting it is an
// error IsNoSuchUnit recognises. Resetting a running unit changes nothing.
func testMissingUnit(t *testing.T, m Manager, unit string) {
	ctx := ctxFor(t)
	if err := m.Stop(ctx, unit); err != nil {
		t.Errorf("stopping a missing unit: %v", err)
	}
	if err := m.ResetFailed(ctx, unit); err != nil {
		t.Errorf("resetting a missing unit: %v", err)
	}
	u, err := m.Get(ctx, unit)
	if err != nil {
		t.Fatalf("reading a missing unit: %v", err)
	}
	if u.LoadState != "not-found" || u.ActiveState != "inactive" || u.MainPID != 0 {
		t.Errorf("missing unit reads %s/%s pid %d, want not-found/inactive", u.LoadState, u.ActiveState, u.MainPID)
	}
	err = m.Restart(ctx, unit)
	if err == nil || !systemd.IsNoSuchUnit(err) || systemd.IsUnitExists(err) {
		t.Errorf("restarting a missing unit: %v, want a NoSuchUnit error", err)
	}
	if u := get(t, m, unit); u != nil && u.LoadState == "loaded" {
		t.Errorf("a missing unit is listed as loaded: %+v", u)
	}
	// Resetting a unit that is not failed leaves it as it is.
	mustStart(t, m, unit, service("exec", "/bin/sleep", "3600"))
	if err := m.ResetFailed(ctx, unit); err != nil {
		t.Errorf("resetting a running unit: %v", err)
	}
	if u := get(t, m, unit); u == nil || u.ActiveState != "active" {
		t.Errorf("a running unit after reset-failed: %+v", u)
	}
}

// testFailingJob: a start job that fails is a *JobError with result
// "failed" (errors.Is ErrJobFailed); the unit stays loaded as failed with
// Result exit-code until reset, and a reset unloads it.
func testFailingJob(t *testing.T, m Manager, unit string) {
	err := m.StartTransient(ctxFor(t), unit, service("oneshot", "/bin/false"))
	var je *systemd.JobError
	if !errors.As(err, &je) || je.Result != "failed" || je.Unit != unit || je.Verb != "starting" || !errors.Is(err, systemd.ErrJobFailed) {
		t.Fatalf("start of a failing oneshot: %#v, want a JobError with result failed", err)
	}
	u := get(t, m, unit)
	if u == nil || u.ActiveState != "failed" || u.Result != "exit-code" || !u.Failing() {
		t.Fatalf("after a failed start: %+v, want failed with result exit-code", u)
	}
	if err := m.ResetFailed(ctxFor(t), unit); err != nil {
		t.Fatal(err)
	}
	eventually(t, unit+" is unloaded after reset-failed", func() bool { return get(t, m, unit) == nil })
	// Stop, too, unloads a failed unit (the client resets it).
	if err := m.StartTransient(ctxFor(t), unit, service("oneshot", "/bin/false")); err == nil {
		t.Fatal("a failing oneshot started")
	}
	if err := m.Stop(ctxFor(t), unit); err != nil {
		t.Fatal(err)
	}
	eventually(t, unit+" is unloaded after stopping it failed", func() bool { return get(t, m, unit) == nil })
}

// testExitAfterStart: a service whose start job succeeded and whose
// program then exits non-zero becomes failed.
func testExitAfterStart(t *testing.T, m Manager, unit string) {
	mustStart(t, m, unit, service("exec", "/bin/false"))
	eventually(t, unit+" fails after its program exits 1", func() bool {
		u := get(t, m, unit)
		return u != nil && u.ActiveState == "failed" && u.Result == "exit-code"
	})
}

// testStartOverFailed: starting a unit whose earlier instance failed
// (still loaded) replaces it: what the reconciler's recreate relies on.
func testStartOverFailed(t *testing.T, m Manager, unit string) {
	if err := m.StartTransient(ctxFor(t), unit, service("oneshot", "/bin/false")); err == nil {
		t.Fatal("a failing oneshot started")
	}
	mustStart(t, m, unit, service("exec", "/bin/sleep", "3600"))
	if u := get(t, m, unit); u == nil || u.ActiveState != "active" {
		t.Fatalf("after starting over a failed unit: %+v", u)
	}
}

// testStartOverRunning: a running unit of the same name is not replaced:
// the start fails with an error IsUnitExists recognises, and the running
// one keeps its PID.
func testStartOverRunning(t *testing.T, m Manager, unit string) {
	mustStart(t, m, unit, service("exec", "/bin/sleep", "3600"))
	pid := get(t, m, unit).MainPID
	err := m.StartTransient(ctxFor(t), unit, service("exec", "/bin/sleep", "60"))
	if !systemd.IsUnitExists(err) || systemd.IsNoSuchUnit(err) {
		t.Fatalf("second start of a running unit: %v, want a UnitExists error", err)
	}
	if u := get(t, m, unit); u == nil || u.MainPID != pid || u.ActiveState != "active" {
		t.Errorf("the running unit changed: %+v (PID was %d)", u, pid)
	}
}

// testStartOverReferenced: a unit another running unit wants stays loaded
// after it stops or exits; starting it again with the same command starts
// it (berth start of a stopped dependency, or of a run-once service).
func testStartOverReferenced(t *testing.T, m Manager, unit string) {
	wanter := strings.TrimSuffix(unit, ".service") + "-b.service"
	mustStart(t, m, unit, service("exec", "/bin/sleep", "3600"))
	mustStart(t, m, wanter, append(service("exec", "/bin/sleep", "3600"),
		sd.Property{Name: "Wants", Value: dbus.MakeVariant([]string{unit})}))
	pid := get(t, m, unit).MainPID
	if err := m.Stop(ctxFor(t), unit); err != nil {
		t.Fatal(err)
	}
	if u := get(t, m, unit); u == nil || u.ActiveState != "inactive" {
		t.Fatalf("a stopped unit another unit wants: %+v, want loaded and inactive", u)
	}
	mustStart(t, m, unit, service("exec", "/bin/sleep", "3600"))
	if u := get(t, m, unit); u == nil || u.ActiveState != "active" || u.MainPID == pid || u.MainPID <= 0 {
		t.Fatalf("after starting it again: %+v (PID was %d)", u, pid)
	}
	// A run-once unit that ended is started again the same way.
	once := strings.TrimSuffix(unit, ".service") + "-c.service"
	if err := m.Stop(ctxFor(t), wanter); err != nil {
		t.Fatal(err)
	}
	mustStart(t, m, wanter, append(service("exec", "/bin/sleep", "3600"),
		sd.Property{Name: "Wants", Value: dbus.MakeVariant([]string{once})}))
	t.Cleanup(func() { _ = m.Stop(context.Background(), once) })
	mustStart(t, m, once, service("oneshot", "/bin/true"))
	eventually(t, once+" ended", func() bool { u := get(t, m, once); return u != nil && u.ActiveState == "inactive" })
	mustStart(t, m, once, service("oneshot", "/bin/true"))
}

// testRestart: a restart waits for its job and runs a new main process.
func testRestart(t *testing.T, m Manager, unit string) {
	mustStart(t, m, unit, service("exec", "/bin/sleep", "3600"))
	pid := get(t, m, unit).MainPID
	if err := m.Restart(ctxFor(t), unit); err != nil {
		t.Fatal(err)
	}
	u := get(t, m, unit)
	if u == nil || u.ActiveState != "active" || u.MainPID == pid || u.MainPID <= 0 {
		t.Fatalf("after restart: %+v (PID was %d)", u, pid)
	}
}

// testListFilters: patterns select by name, states by load, active or
// sub state.
func testListFilters(t *testing.T, m Manager, unit string) {
	other := unit[:len(unit)-len(".service")] + "-b.service"
	mustStart(t, m, unit, service("exec", "/bin/sleep", "3600"))
	if err := m.StartTransient(ctxFor(t), other, service("oneshot", "/bin/false")); err == nil {
		t.Fatal("a failing oneshot started")
	}
	names := func(o systemd.ListOptions) []string {
		us, err := m.List(ctxFor(t), o)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range us {
			out = append(out, u.Name)
		}
		slices.Sort(out)
		return out
	}
	glob := unit[:len(unit)-len(".service")] + "*"
	if got := names(systemd.ListOptions{Patterns: []string{glob}}); !slices.Equal(got, []string{other, unit}) {
		t.Errorf("pattern %s lists %v", glob, got)
	}
	if got := names(systemd.ListOptions{Patterns: []string{glob}, States: []string{"failed"}}); !slices.Equal(got, []string{other}) {
		t.Errorf("failed units: %v", got)
	}
	if got := names(systemd.ListOptions{Patterns: []string{glob}, States: []string{"running"}}); !slices.Equal(got, []string{unit}) {
		t.Errorf("running units: %v", got)
	}
	if got := names(systemd.ListOptions{Patterns: []string{"sdtest-none-*"}}); len(got) != 0 {
		t.Errorf("a pattern matching nothing lists %v", got)
	}
}

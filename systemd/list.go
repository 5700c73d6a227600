package systemd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Unit is what berth reads back from a service unit. Fields whose
// property was not read stay zero (Limits: Infinity).
type Unit struct {
	Name         string
	LoadState    string
	ActiveState  string
	SubState     string
	Result       string
	MainPID      int
	ControlGroup string
	Restarts     uint32
	// Since is when the unit last entered its active state.
	Since       time.Time
	Environment map[string]string
	// Limits are the resource properties berth sets, as systemd reports
	// them now (after any `systemctl set-property`). Unset limits read as
	// Infinity (math.MaxUint64).
	Limits Limits
}

// Limits are the cgroup properties the agent compares with the desired
// unit to notice changes made by hand.
type Limits struct {
	MemoryMax          uint64
	TasksMax           uint64
	CPUQuotaPerSecUSec uint64
}

// Infinity is how systemd reports an unset limit.
const Infinity = ^uint64(0)

// The properties List can read, by their D-Bus names. The name and the
// three states come with the listing itself and cost nothing.
const (
	PropEnvironment          = "Environment"
	PropMemoryMax            = "MemoryMax"
	PropTasksMax             = "TasksMax"
	PropCPUQuotaPerSecUSec   = "CPUQuotaPerSecUSec"
	PropMainPID              = "MainPID"
	PropNRestarts            = "NRestarts"
	PropResult               = "Result"
	PropControlGroup         = "ControlGroup"
	PropActiveEnterTimestamp = "ActiveEnterTimestamp"
)

// limitProps are the properties that fill Unit.Limits.
var limitProps = []string{PropMemoryMax, PropTasksMax, PropCPUQuotaPerSecUSec}

// propInterface maps each readable property to the D-Bus interface that
// holds it.
var propInterface = map[string]string{
	PropEnvironment: "Service", PropMemoryMax: "Service", PropTasksMax: "Service",
	PropCPUQuotaPerSecUSec: "Service", PropMainPID: "Service", PropNRestarts: "Service",
	PropResult: "Service", PropControlGroup: "Service", PropActiveEnterTimestamp: "Unit",
}

// AllProps are every property List can read: what `berth ps` shows.
var AllProps = []string{PropEnvironment, PropMemoryMax, PropTasksMax, PropCPUQuotaPerSecUSec,
	PropMainPID, PropNRestarts, PropResult, PropControlGroup, PropActiveEnterTimestamp}

// ListOptions says which units List returns and what it reads of each.
type ListOptions struct {
	// Patterns are unit name globs ("berth-*.service"); none lists all.
	Patterns []string
	// States keeps units in any of these load, active or sub states
	// ("failed", "activating"); none keeps all.
	States []string
	// Props are the properties read per loaded unit, one small read
	// each (Prop* names). GetAll on a service makes systemd compute
	// ~250 properties, some from cgroup files, and costs milliseconds.
	Props []string
	// Cache, with a repeated listing (the agent), spares the reads of
	// Environment and limits of units that provably did not change (see
	// UnitCache).
	Cache *UnitCache
}

// listConcurrency bounds the property reads in flight on the connection.
const listConcurrency = 32

// List lists units by name pattern and state with one
// ListUnitsByPatterns call, then reads o.Props of each loaded unit,
// concurrently over the one connection. Units unloaded between the list
// and their reads are left out; units not loaded (not-found) come back
// with states only. It makes no writes.
func (c *Client) List(ctx context.Context, o ListOptions) ([]Unit, error) {
	for _, p := range o.Props {
		if _, ok := propInterface[p]; !ok {
			return nil, fmt.Errorf("listing units: unknown property %q (valid: %s)", p, strings.Join(AllProps, ", "))
		}
	}
	states, patterns := o.States, o.Patterns
	if states == nil {
		states = []string{}
	}
	if patterns == nil {
		patterns = []string{}
	}
	sts, err := c.conn.ListUnitsByPatternsContext(ctx, states, patterns)
	if err != nil {
		return nil, fmt.Errorf("listing units: %w", err)
	}
	out := make([]Unit, len(sts))
	skip := make([]bool, len(sts))
	errs := make([]error, len(sts))
	listed := make(map[string]bool, len(sts))
	sem := make(chan struct{}, listConcurrency)
	var wg sync.WaitGroup
	for i, st := range sts {
		listed[st.Name] = true
		out[i] = Unit{Name: st.Name, LoadState: st.LoadState, ActiveState: st.ActiveState, SubState: st.SubState,
			Environment: map[string]string{}, Limits: Limits{MemoryMax: Infinity, TasksMax: Infinity, CPUQuotaPerSecUSec: Infinity}}
		if st.LoadState != "loaded" || len(o.Props) == 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := c.readProps(ctx, o, &out[i])
			switch {
			case IsGone(err):
				skip[i] = true
			case err != nil:
				errs[i] = fmt.Errorf("reading unit %s: %w", out[i].Name, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.Cache != nil {
		o.Cache.keepOnly(listed)
	}
	kept := out[:0]
	for i := range out {
		if !skip[i] {
			kept = append(kept, out[i])
		}
	}
	return kept, nil
}

// readProps reads o.Props of u, the cached ones from o.Cache when the
// unit did not change.
func (c *Client) readProps(ctx context.Context, o ListOptions, u *Unit) error {
	rest := o.Props
	if o.Cache != nil && cacheable(o.Props) {
		done, err := c.readCached(ctx, o.Cache, u)
		if err == nil && !done {
			err = c.readFull(ctx, o.Cache, u)
		}
		if err != nil {
			return err
		}
		rest = slices.DeleteFunc(slices.Clone(o.Props), func(p string) bool { return slices.Contains(cachedProps, p) })
	}
	props, err := c.props(ctx, u.Name, rest)
	if err != nil {
		return err
	}
	u.setProps(props)
	return nil
}

// Get reads one service unit's states and every property in AllProps. A
// unit systemd does not know comes back with LoadState "not-found".
func (c *Client) Get(ctx context.Context, name string) (*Unit, error) {
	up, err := c.conn.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("reading unit %s: %w", name, err)
	}
	u := &Unit{
		Name:        name,
		LoadState:   asString(up["LoadState"]),
		ActiveState: asString(up["ActiveState"]),
		SubState:    asString(up["SubState"]),
		Environment: map[string]string{},
		Limits:      Limits{MemoryMax: Infinity, TasksMax: Infinity, CPUQuotaPerSecUSec: Infinity},
	}
	if ts, ok := up["ActiveEnterTimestamp"].(uint64); ok && ts > 0 {
		u.Since = time.UnixMicro(int64(ts))
	}
	if u.LoadState != "loaded" {
		return u, nil
	}
	sp, err := c.conn.GetUnitTypePropertiesContext(ctx, name, "Service")
	if err != nil {
		return nil, fmt.Errorf("reading service %s: %w", name, err)
	}
	u.setProps(sp)
	return u, nil
}

// Failing reports whether u is failed or on its way round a restart loop:
// cleaning up after a failure (deactivating with a Result other than
// success), waiting to restart (auto-restart), or starting again after
// systemd restarted it (activating with NRestarts > 0). It needs Result
// and NRestarts read.
func (u *Unit) Failing() bool {
	switch {
	case u.ActiveState == "failed", u.SubState == "auto-restart",
		u.ActiveState == "deactivating" && u.Result != "" && u.Result != "success",
		u.ActiveState == "activating" && u.Restarts > 0:
		return true
	}
	return false
}

// setProps sets the fields of the properties in props; limits missing
// from props are left as they are.
func (u *Unit) setProps(props map[string]any) {
	for name, v := range props {
		switch name {
		case PropMainPID:
			if pid, ok := v.(uint32); ok {
				u.MainPID = int(pid)
			}
		case PropNRestarts:
			if n, ok := v.(uint32); ok {
				u.Restarts = n
			}
		case PropResult:
			u.Result = asString(v)
		case PropControlGroup:
			u.ControlGroup = asString(v)
		case PropMemoryMax:
			u.Limits.MemoryMax = asUint64(v)
		case PropTasksMax:
			u.Limits.TasksMax = asUint64(v)
		case PropCPUQuotaPerSecUSec:
			u.Limits.CPUQuotaPerSecUSec = asUint64(v)
		case PropActiveEnterTimestamp:
			if ts, ok := v.(uint64); ok && ts > 0 {
				u.Since = time.UnixMicro(int64(ts))
			}
		case PropEnvironment:
			if env, ok := v.([]string); ok {
				for _, kv := range env {
					k, val, _ := strings.Cut(kv, "=")
					u.Environment[k] = val
				}
			}
		}
	}
}

// props reads the named properties of unit one by one (a service's, or
// the same-named ones of a socket).
func (c *Client) props(ctx context.Context, unit string, names []string) (map[string]any, error) {
	props := make(map[string]any, len(names))
	socket := strings.HasSuffix(unit, ".socket")
	for _, name := range names {
		iface := propInterface[name]
		if iface == "Service" && socket {
			if name == PropMainPID || name == PropNRestarts {
				continue // a socket has neither: they stay zero
			}
			// A socket has an exec and cgroup context too: Environment,
			// the limits and Result are on its own interface.
			iface = "Socket"
		}
		p, err := c.conn.GetUnitTypePropertyContext(ctx, unit, iface, name)
		if err != nil {
			return nil, fmt.Errorf("reading %s of %s: %w", name, unit, err)
		}
		props[name] = p.Value.Value()
	}
	return props, nil
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

func asUint64(v any) uint64 {
	n, ok := v.(uint64)
	if !ok {
		return Infinity
	}
	return n
}

package systemd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// Unit is what berth reads back from a loaded service unit.
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

// List returns every loaded service unit whose name starts with prefix,
// including inactive and failed ones.
func (c *Client) List(ctx context.Context, prefix string) ([]Unit, error) {
	sts, err := c.conn.ListUnitsByPatternsContext(ctx, nil, []string{prefix + "*.service"})
	if err != nil {
		return nil, fmt.Errorf("listing units: %w", err)
	}
	var out []Unit
	for _, st := range sts {
		u, err := c.Get(ctx, st.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, nil
}

// reconcileProps are the Service properties ListServices reads: the
// environment (project, service, spec hash) and the limits the agent
// compares for drift. Nothing else is read: GetAll(Service) makes systemd
// compute ~250 properties, some from cgroup files, and costs milliseconds
// per unit.
var reconcileProps = []string{"Environment", "MemoryMax", "TasksMax", "CPUQuotaPerSecUSec"}

// limitProps are the limits among reconcileProps.
var limitProps = reconcileProps[1:]

// listConcurrency bounds the property reads in flight on the connection.
const listConcurrency = 32

// ListServices is the reconciler's listing: one ListUnitsByPatterns call
// for the names and states, then only the properties the reconciler
// compares (Environment and Limits; MainPID, Restarts and timestamps stay
// zero), read one by one and concurrently over the one connection. It
// makes no writes. A unit unloaded between the list and its reads is left
// out. With a cache (the agent's re-lists), units that provably did not
// change are not read again (see UnitCache).
func (c *Client) ListServices(ctx context.Context, prefix string, cache *UnitCache) ([]Unit, error) {
	sts, err := c.conn.ListUnitsByPatternsContext(ctx, nil, []string{prefix + "*.service"})
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
		if st.LoadState != "loaded" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			u := &out[i]
			done := false
			var err error
			if cache != nil {
				done, err = c.readCached(ctx, cache, u)
			}
			if err == nil && !done {
				err = c.readFull(ctx, cache, u)
			}
			switch {
			case gone(err):
				skip[i] = true
			case err != nil:
				errs[i] = fmt.Errorf("reading unit %s: %w", u.Name, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cache != nil {
		cache.keepOnly(listed)
	}
	kept := out[:0]
	for i := range out {
		if !skip[i] {
			kept = append(kept, out[i])
		}
	}
	return kept, nil
}

// Get reads one service unit's state and environment.
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
	u.serviceProps(sp)
	return u, nil
}

func (u *Unit) serviceProps(sp map[string]any) {
	if pid, ok := sp["MainPID"].(uint32); ok {
		u.MainPID = int(pid)
	}
	if n, ok := sp["NRestarts"].(uint32); ok {
		u.Restarts = n
	}
	u.Result = asString(sp["Result"])
	u.ControlGroup = asString(sp["ControlGroup"])
	u.Limits = Limits{
		MemoryMax:          asUint64(sp["MemoryMax"]),
		TasksMax:           asUint64(sp["TasksMax"]),
		CPUQuotaPerSecUSec: asUint64(sp["CPUQuotaPerSecUSec"]),
	}
	if env, ok := sp["Environment"].([]string); ok {
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			u.Environment[k] = v
		}
	}
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

// gone reports whether err says the unit no longer exists.
func gone(err error) bool {
	var de dbus.Error
	return errors.As(err, &de) && (de.Name == "org.freedesktop.systemd1.NoSuchUnit" || de.Name == "org.freedesktop.DBus.Error.UnknownObject")
}

// Failing returns the loaded service units whose name starts with prefix
// and that are failed, or on their way round a restart loop: cleaning up
// after a failure (deactivating with a Result other than success),
// waiting to restart (auto-restart), or starting again after systemd
// restarted them (activating with NRestarts > 0). Only those units are
// read in full.
func (c *Client) Failing(ctx context.Context, prefix string) ([]Unit, error) {
	sts, err := c.conn.ListUnitsByPatternsContext(ctx, []string{"failed", "activating", "deactivating"}, []string{prefix + "*.service"})
	if err != nil {
		return nil, fmt.Errorf("listing units: %w", err)
	}
	var out []Unit
	for _, st := range sts {
		u, err := c.Get(ctx, st.Name)
		if gone(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		switch {
		case u.ActiveState == "failed", u.SubState == "auto-restart",
			u.ActiveState == "deactivating" && u.Result != "success",
			u.ActiveState == "activating" && u.Restarts > 0:
			out = append(out, *u)
		}
	}
	return out, nil
}

package systemd

import (
	"errors"

	"context"
	"fmt"
	"github.com/godbus/dbus/v5"
	"strings"
	"time"
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

// ListServices is List without the timestamps of the Unit interface: one
// call for the list and one per unit, for the agent's frequent re-lists.
func (c *Client) ListServices(ctx context.Context, prefix string) ([]Unit, error) {
	sts, err := c.conn.ListUnitsByPatternsContext(ctx, nil, []string{prefix + "*.service"})
	if err != nil {
		return nil, fmt.Errorf("listing units: %w", err)
	}
	out := make([]Unit, 0, len(sts))
	for _, st := range sts {
		u := Unit{Name: st.Name, LoadState: st.LoadState, ActiveState: st.ActiveState, SubState: st.SubState, Environment: map[string]string{}}
		if u.LoadState == "loaded" {
			sp, err := c.conn.GetUnitTypePropertiesContext(ctx, st.Name, "Service")
			if gone(err) {
				continue // unloaded since it was listed
			}
			if err != nil {
				return nil, fmt.Errorf("reading service %s: %w", st.Name, err)
			}
			u.serviceProps(sp)
		}
		out = append(out, u)
	}
	return out, nil
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

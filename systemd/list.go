package systemd

import (
	"context"
	"fmt"
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
}

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
	if pid, ok := sp["MainPID"].(uint32); ok {
		u.MainPID = int(pid)
	}
	if n, ok := sp["NRestarts"].(uint32); ok {
		u.Restarts = n
	}
	u.Result = asString(sp["Result"])
	u.ControlGroup = asString(sp["ControlGroup"])
	if env, ok := sp["Environment"].([]string); ok {
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			u.Environment[k] = v
		}
	}
	return u, nil
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

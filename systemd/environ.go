package systemd

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// environReaders bounds the property reads ListEnvironments has in flight
// on the one connection.
const environReaders = 8

// ListEnvironments is List for callers that need only each unit's name,
// states and Environment (auto-update's targets): one small property read
// per unit instead of every unit and service property, a few at a time.
// Units unloaded meanwhile are left out. Limits, MainPID and the other
// fields stay zero.
func (c *Client) ListEnvironments(ctx context.Context, prefix string) ([]Unit, error) {
	sts, err := c.conn.ListUnitsByPatternsContext(ctx, nil, []string{prefix + "*.service"})
	if err != nil {
		return nil, fmt.Errorf("listing units: %w", err)
	}
	out := make([]Unit, len(sts))
	keep := make([]bool, len(sts))
	errs := make([]error, len(sts))
	sem := make(chan struct{}, environReaders)
	var wg sync.WaitGroup
	for i, st := range sts {
		out[i] = Unit{Name: st.Name, LoadState: st.LoadState, ActiveState: st.ActiveState, SubState: st.SubState, Environment: map[string]string{}}
		if st.LoadState != "loaded" {
			keep[i] = true
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			p, err := c.conn.GetUnitTypePropertyContext(ctx, st.Name, "Service", "Environment")
			if gone(err) {
				return
			}
			if err != nil {
				errs[i] = fmt.Errorf("reading the environment of %s: %w", st.Name, err)
				return
			}
			keep[i] = true
			if env, ok := p.Value.Value().([]string); ok {
				for _, kv := range env {
					k, v, _ := strings.Cut(kv, "=")
					out[i].Environment[k] = v
				}
			}
		}()
	}
	wg.Wait()
	units := out[:0]
	for i := range out {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if keep[i] {
			units = append(units, out[i])
		}
	}
	return units, nil
}

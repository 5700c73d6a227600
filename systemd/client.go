// Package systemd is berth's thin D-Bus client for systemd. It starts,
// stops and lists units and knows nothing of compose.
package systemd

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
)

// Client talks to the system manager.
type Client struct {
	conn *sd.Conn
	// writes counts calls that change systemd's state, so a no-op
	// reconcile can be shown to make none.
	writes atomic.Int64
	// explain, when set, finds why a job failed (see JobError).
	explain Explainer
}

// Option configures a Client.
type Option func(*Client)

// WithExplainer makes failed jobs carry the failed unit's own explanation
// (JobError.Reason), which e reads from the journal.
func WithExplainer(e Explainer) Option { return func(c *Client) { c.explain = e } }

// Writes returns how many state-changing calls (start, stop, restart,
// reset-failed) this client has made.
func (c *Client) Writes() int64 { return c.writes.Load() }

// Connect opens systemd's private socket when running as root (no bus
// daemon needed, as systemctl does) and the system bus otherwise.
func Connect(ctx context.Context, opts ...Option) (*Client, error) {
	var conn *sd.Conn
	var err error
	if os.Geteuid() == 0 {
		conn, err = sd.NewSystemdConnectionContext(ctx)
	} else {
		conn, err = sd.NewSystemConnectionContext(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to systemd: %w", err)
	}
	c := &Client{conn: conn}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() { c.conn.Close() }

// StartTransient creates and starts a transient unit and waits for its start
// job. aux units are created in the same call but not started (a socket's
// service, a timer pulled in by Wants=). A stopped earlier instance that
// systemd has not yet garbage-collected is waited out, so a recreate never
// races the old unit.
func (c *Client) StartTransient(ctx context.Context, name string, props []sd.Property, aux ...sd.PropertyCollection) error {
	if aux == nil {
		aux = []sd.PropertyCollection{}
	}
	for attempt := 0; ; attempt++ {
		ch := make(chan string, 1)
		c.writes.Add(1)
		job, err := c.conn.StartTransientUnitAux(ctx, name, "fail", props, aux, ch)
		if err == nil {
			return c.waitJob(ctx, "starting", name, job, ch)
		}
		if IsUnitExists(err) && attempt == 0 && len(aux) == 0 {
			if started, err := c.startLoaded(ctx, name, props); started {
				return err
			}
		}
		if IsUnitExists(err) && attempt < 50 {
			_ = c.conn.ResetFailedUnitContext(ctx, name)
			for _, a := range aux {
				_ = c.conn.ResetFailedUnitContext(ctx, a.Name)
			}
			select {
			case <-time.After(100 * time.Millisecond):
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return fmt.Errorf("starting unit %s: %w", name, err)
	}
}

// startLoaded starts name as systemd has it when it is stopped but still
// loaded with the same command line (so the same spec): a unit another
// unit's Wants= or After= names stays loaded after it stops or exits, and
// a transient unit of its name cannot be made again until it goes, which
// is never while the other unit runs. started is false when name is not
// such a unit.
func (c *Client) startLoaded(ctx context.Context, name string, props []sd.Property) (started bool, err error) {
	want := ExecArgv(props)
	state, err := c.conn.GetUnitPropertyContext(ctx, name, "ActiveState")
	if want == nil || err != nil {
		return false, nil
	}
	if s, _ := state.Value.Value().(string); s != "inactive" && s != "failed" {
		return false, nil
	}
	exec, err := c.conn.GetUnitTypePropertyContext(ctx, name, "Service", "ExecStart")
	if err != nil || !slices.Equal(loadedArgv(exec.Value.Value()), want) {
		return false, nil
	}
	_ = c.conn.ResetFailedUnitContext(ctx, name)
	ch := make(chan string, 1)
	c.writes.Add(1)
	job, err := c.conn.StartUnitContext(ctx, name, "fail", ch)
	if err != nil {
		return true, fmt.Errorf("starting unit %s: %w", name, err)
	}
	return true, c.waitJob(ctx, "starting", name, job, ch)
}

// ExecArgv is the first command line of the ExecStart among props (the
// execStart structs go-systemd and units build, read by field name).
func ExecArgv(props []sd.Property) []string {
	for _, p := range props {
		if p.Name != "ExecStart" {
			continue
		}
		rv := reflect.ValueOf(p.Value.Value())
		if rv.Kind() != reflect.Slice || rv.Len() == 0 || rv.Index(0).Kind() != reflect.Struct {
			return nil
		}
		args, _ := rv.Index(0).FieldByName("Args").Interface().([]string)
		return args
	}
	return nil
}

// loadedArgv is the first command line of a loaded unit's ExecStart
// property, a(sasbttttuii) on the bus.
func loadedArgv(v any) []string {
	cmds, ok := v.([][]any)
	if !ok || len(cmds) == 0 || len(cmds[0]) < 2 {
		return nil
	}
	args, _ := cmds[0][1].([]string)
	return args
}

// Stop stops a unit and waits for the job; a unit that is not loaded counts
// as stopped. A failed transient unit is reset so that it goes away, and so
// are the units systemd stopped along with it (Requires=, BindsTo=, PartOf=):
// a dependent that failed on the way down (a container exiting 143 on
// SIGTERM) would stay loaded and keep this unit loaded through its
// dependency, so a new transient unit of the same name could not start.
func (c *Client) Stop(ctx context.Context, name string) error {
	along := c.stoppedAlong(ctx, name)
	ch := make(chan string, 1)
	c.writes.Add(1)
	job, err := c.conn.StopUnitContext(ctx, name, "replace", ch)
	if err != nil {
		if IsNoSuchUnit(err) {
			return nil
		}
		return fmt.Errorf("stopping unit %s: %w", name, err)
	}
	if err := c.waitJob(ctx, "stopping", name, job, ch); err != nil {
		return err
	}
	_ = c.ResetFailed(ctx, name)
	for _, u := range along {
		_ = c.ResetFailed(ctx, u)
	}
	return nil
}

// stoppedAlong lists the units whose Requires=, BindsTo= or PartOf= name
// unit, so that stopping unit stops them too. Errors give none: the list
// only tidies up.
func (c *Client) stoppedAlong(ctx context.Context, unit string) []string {
	props, err := c.conn.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range []string{"RequiredBy", "BoundBy", "ConsistsOf"} {
		if names, ok := props[p].([]string); ok {
			out = append(out, names...)
		}
	}
	return out
}

// Restart restarts a unit and waits for the job.
func (c *Client) Restart(ctx context.Context, name string) error {
	ch := make(chan string, 1)
	c.writes.Add(1)
	job, err := c.conn.RestartUnitContext(ctx, name, "replace", ch)
	if err != nil {
		return fmt.Errorf("restarting unit %s: %w", name, err)
	}
	return c.waitJob(ctx, "restarting", name, job, ch)
}

// RestartNoWait queues a restart of a unit and returns without waiting for
// the job: for callers that the restart itself stops (a unit's own helper).
func (c *Client) RestartNoWait(ctx context.Context, name string) error {
	if _, err := c.conn.RestartUnitContext(ctx, name, "replace", nil); err != nil {
		return fmt.Errorf("restarting unit %s: %w", name, err)
	}
	return nil
}

// ResetFailed clears a unit's failed state; a unit that is not failed or not
// loaded is not an error.
func (c *Client) ResetFailed(ctx context.Context, name string) error {
	c.writes.Add(1)
	err := c.conn.ResetFailedUnitContext(ctx, name)
	if err == nil || IsNoSuchUnit(err) {
		return nil
	}
	return fmt.Errorf("resetting unit %s: %w", name, err)
}

// waitJob waits for job's result; a result other than "done" is a
// *JobError, with the unit's reason when an Explainer is set.
func (c *Client) waitJob(ctx context.Context, verb, name string, job int, ch <-chan string) error {
	select {
	case res := <-ch:
		if res == "done" {
			return nil
		}
		e := &JobError{Verb: verb, Unit: name, Job: job, Result: res}
		// Only a run that failed or timed out has lines of its own; a
		// dependency's failure is reported with that dependency.
		if c.explain != nil && (res == "failed" || res == "timeout") {
			e.Reason, e.ReasonErr = c.explain.JobReason(ctx, name, job, res)
		}
		return e
	case <-ctx.Done():
		return fmt.Errorf("%s unit %s: %w", verb, name, ctx.Err())
	}
}

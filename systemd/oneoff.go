package systemd

import (
	"context"
	"fmt"
	"os"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// OneOffProps are the properties of a unit run once. A detached one is
// collected even when it failed. An attached one keeps systemd's default
// (CollectMode=inactive): a failed run stays loaded until Exited has read
// its exit status and reset it, while a successful one goes at once.
// (systemd-run --wait holds it with AddRef=, which systemd refuses on its
// private socket: "Failed to watch sender".)
func OneOffProps(attached bool) []sd.Property {
	if attached {
		return nil
	}
	return []sd.Property{{Name: "CollectMode", Value: dbus.MakeVariant("inactive-or-failed")}}
}

// StdioProps connect the unit's standard input (unless in is nil), output
// and error to in, out and errOut (systemd-run --pipe): systemd receives
// the descriptors over the bus.
func StdioProps(in, out, errOut *os.File) []sd.Property {
	var props []sd.Property
	if in != nil {
		props = append(props, sd.Property{Name: "StandardInputFileDescriptor", Value: dbus.MakeVariant(dbus.UnixFD(in.Fd()))})
	}
	return append(props,
		sd.Property{Name: "StandardOutputFileDescriptor", Value: dbus.MakeVariant(dbus.UnixFD(out.Fd()))},
		sd.Property{Name: "StandardErrorFileDescriptor", Value: dbus.MakeVariant(dbus.UnixFD(errOut.Fd()))})
}

// StartOneOff creates and starts a transient unit and returns once its
// start job is queued; Exited waits for it to end.
func (c *Client) StartOneOff(ctx context.Context, name string, props []sd.Property) (<-chan string, error) {
	ch := make(chan string, 1)
	c.writes.Add(1)
	if _, err := c.conn.StartTransientUnitAux(ctx, name, "fail", props, []sd.PropertyCollection{}, ch); err != nil {
		return nil, fmt.Errorf("starting unit %s: %w", name, err)
	}
	return ch, nil
}

// Exited waits for the start job (job) of an attached one-off unit, then
// for the unit to be inactive or failed (its ExecStopPost= done), and
// returns its main process's exit status: 0 when the job succeeded, else
// the failed unit's, 128+N when killed by signal N. It resets the failed
// unit, so it goes away.
func (c *Client) Exited(ctx context.Context, name string, job <-chan string) (int, error) {
	var result string
	select {
	case result = <-job:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	var state string
	for {
		up, err := c.conn.GetUnitPropertiesContext(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("reading unit %s: %w", name, err)
		}
		if state = asString(up["ActiveState"]); state == "inactive" || state == "failed" {
			break
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if result == "done" && state == "inactive" {
		return 0, nil
	}
	sp, err := c.conn.GetUnitTypePropertiesContext(ctx, name, "Service")
	if err != nil {
		return 0, fmt.Errorf("reading service %s: %w", name, err)
	}
	_ = c.ResetFailed(ctx, name)
	code, _ := sp["ExecMainCode"].(int32)
	status, _ := sp["ExecMainStatus"].(int32)
	switch code { // siginfo's si_code: CLD_EXITED, CLD_KILLED, CLD_DUMPED
	case 1:
		return int(status), nil
	case 2, 3:
		return 128 + int(status), nil
	}
	return 0, fmt.Errorf("unit %s did not run its command (job %s, result %s)", name, result, asString(sp["Result"]))
}

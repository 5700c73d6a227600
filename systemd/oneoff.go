package systemd

import (
	"context"
	"fmt"
	"os"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// OneOffProps are the properties of a unit run once, as systemd-run
// --wait makes it: collected even when it failed, and, when attached, kept
// loaded by this connection (AddRef) until it closes, so its exit status
// can be read after it ended.
func OneOffProps(attached bool) []sd.Property {
	props := []sd.Property{{Name: "CollectMode", Value: dbus.MakeVariant("inactive-or-failed")}}
	if attached {
		props = append(props, sd.Property{Name: "AddRef", Value: dbus.MakeVariant(true)})
	}
	return props
}

// StdioProps connect the unit's standard output and error to out and errOut
// (systemd-run --pipe): systemd receives the descriptors over the bus.
func StdioProps(out, errOut *os.File) []sd.Property {
	return []sd.Property{
		{Name: "StandardOutputFileDescriptor", Value: dbus.MakeVariant(dbus.UnixFD(out.Fd()))},
		{Name: "StandardErrorFileDescriptor", Value: dbus.MakeVariant(dbus.UnixFD(errOut.Fd()))},
	}
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

// Exited waits for the start job (job) of a one-off unit, then for the
// unit to be inactive or failed (its ExecStopPost= done), and returns its
// main process's exit status: 128+N when killed by signal N. The unit
// must be kept loaded (OneOffProps attached).
func (c *Client) Exited(ctx context.Context, name string, job <-chan string) (int, error) {
	select {
	case <-job:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	for {
		up, err := c.conn.GetUnitPropertiesContext(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("reading unit %s: %w", name, err)
		}
		if s := asString(up["ActiveState"]); s == "inactive" || s == "failed" {
			break
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	sp, err := c.conn.GetUnitTypePropertiesContext(ctx, name, "Service")
	if err != nil {
		return 0, fmt.Errorf("reading service %s: %w", name, err)
	}
	code, _ := sp["ExecMainCode"].(int32)
	status, _ := sp["ExecMainStatus"].(int32)
	switch code { // siginfo's si_code: CLD_EXITED, CLD_KILLED, CLD_DUMPED
	case 1:
		return int(status), nil
	case 2, 3:
		return 128 + int(status), nil
	}
	result := asString(sp["Result"])
	return 0, fmt.Errorf("unit %s ended without running its command (result %s)", name, result)
}

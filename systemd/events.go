package systemd

import (
	"context"
	"fmt"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
)

// Event is one state change of a unit, as systemd signals it.
type Event struct {
	Time        time.Time `json:"time"`
	Unit        string    `json:"unit"`
	ActiveState string    `json:"active_state,omitempty"`
	SubState    string    `json:"sub_state,omitempty"`
}

// Subscribe streams the state changes of units whose name starts with
// prefix until ctx ends; the channel is closed then. It uses systemd's own
// PropertiesChanged signals (no polling). Changes that carry neither
// ActiveState nor SubState are dropped. A full channel drops events rather
// than stall systemd's signal dispatch; consumers that must not miss a
// change re-list on a ticker, as the agent does.
func (c *Client) Subscribe(ctx context.Context, prefix string) (<-chan Event, error) {
	if err := c.conn.Subscribe(); err != nil {
		return nil, fmt.Errorf("subscribing to systemd signals: %w", err)
	}
	raw := make(chan *sd.PropertiesUpdate, 256)
	errs := make(chan error, 1)
	c.conn.SetPropertiesSubscriber(raw, errs)
	out := make(chan Event, 64)
	go func() {
		defer close(out)
		defer c.conn.SetPropertiesSubscriber(nil, nil)
		for {
			select {
			case <-ctx.Done():
				return
			case <-errs: // overflow of raw: a lost change, re-listing repairs it
			case u := <-raw:
				if !strings.HasPrefix(u.UnitName, prefix) {
					continue
				}
				ev := Event{Time: time.Now(), Unit: u.UnitName}
				if v, ok := u.Changed["ActiveState"]; ok {
					ev.ActiveState, _ = v.Value().(string)
				}
				if v, ok := u.Changed["SubState"]; ok {
					ev.SubState, _ = v.Value().(string)
				}
				if ev.ActiveState == "" && ev.SubState == "" {
					continue
				}
				select {
				case out <- ev:
				default:
				}
			}
		}
	}()
	return out, nil
}

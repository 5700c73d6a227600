package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/berth-dev/berth/autoupdate"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime/paths"
)

// printPendingUpdates lists, after the plan, the image updates
// autoupdate.PendingUpdates finds for the services p keeps, creates or
// recreates: from the lockfile, without asking any registry.
func printPendingUpdates(ctx context.Context, w io.Writer, stateDir string, p *reconciler.Plan) error {
	var planned []autoupdate.Planned
	actions := map[string]reconciler.Action{}
	for _, c := range p.Changes {
		if c.Desired == nil || c.Action == reconciler.Remove {
			continue
		}
		starts := c.Action == reconciler.Create || c.Action == reconciler.Recreate
		planned = append(planned, autoupdate.Planned{Unit: c.Unit, Service: c.Desired, Starts: starts})
		actions[c.Unit] = c.Action
	}
	st := autoupdate.State{Dir: paths.New("", stateDir, "").AutoUpdate()}
	pending, err := autoupdate.PendingUpdates(ctx, st, stateDir, planned)
	if err != nil || len(pending) == 0 {
		return err
	}
	fmt.Fprintf(w, "Image updates (from %s; `berth auto-update` applies them):\n", autoupdate.LockfilePath(stateDir))
	for _, u := range pending {
		svc, e := u.Service, u.Lock
		verb := "^ update"
		if !u.Update {
			verb = "= keep" // no policy, but apply would otherwise pull the bad digest
		}
		line := fmt.Sprintf("  %s %s/%s (%s): %s %s → %s, seen %s", verb, svc.Project, svc.Name, u.Unit, svc.Image,
			shortDigest(e.Digest), shortDigest(e.Available), e.Checked.Local().Format(time.DateTime))
		if b := u.Bad; b != nil {
			line += fmt.Sprintf(" (rolled back %s: %s; skipped until the tag moves", b.At.Local().Format(time.DateTime), b.Reason)
			if u.Starts {
				line += fmt.Sprintf("; this %s keeps %s", actions[u.Unit], shortDigest(e.Digest))
			}
			line += ")"
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

package main

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/autoupdate"
	"github.com/berth-dev/berth/reconciler"
)

// printPendingUpdates lists, after the plan, the services whose image has a
// newer digest in its registry than the one applied, as the last auto-update
// check recorded in the lockfile; no registry is asked. Digests recorded bad
// say so.
func printPendingUpdates(w io.Writer, stateDir string, p *reconciler.Plan) error {
	lock, err := autoupdate.ReadLockfile(stateDir)
	if err != nil {
		return err
	}
	bad, err := autoupdate.State{Dir: filepath.Join(stateDir, "autoupdate")}.Bad()
	if err != nil {
		return err
	}
	header := false
	for _, c := range p.Changes {
		svc := c.Desired
		if svc == nil || c.Action == reconciler.Remove {
			continue
		}
		e, ok := lock.Images[svc.Image]
		if !ok || e.Available == "" {
			continue
		}
		policy, err := autoupdate.PolicyOf(svc)
		if err != nil || policy != autoupdate.PolicyRegistry || autoupdate.Pinned(svc.Image) {
			continue
		}
		if !header {
			fmt.Fprintf(w, "Image updates (from %s; `berth auto-update` applies them):\n", autoupdate.LockfilePath(stateDir))
			header = true
		}
		line := fmt.Sprintf("  ^ update %s/%s (%s): %s %s → %s, seen %s", svc.Project, svc.Name, c.Unit, svc.Image,
			shortDigest(e.Digest), shortDigest(e.Available), e.Checked.Local().Format(time.DateTime))
		if b := autoupdate.IsBad(bad, svc.Image, e.Available); b != nil {
			line += fmt.Sprintf(" (rolled back %s: %s; skipped until the tag moves)", b.At.Local().Format(time.DateTime), b.Reason)
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

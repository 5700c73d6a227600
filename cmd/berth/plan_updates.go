package main

import (
	"fmt"
	"io"
	"time"

	"github.com/berth-dev/berth/autoupdate"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime/paths"
)

// printPendingUpdates lists, after the plan, the services whose image has a
// newer digest in its registry than the one applied, as the last auto-update
// check recorded in the lockfile; no registry is asked. Digests recorded bad
// say so, and a service apply creates or recreates on such a tag (with or
// without a policy) is listed with the digest it keeps instead.
func printPendingUpdates(w io.Writer, stateDir string, p *reconciler.Plan) error {
	lock, err := autoupdate.ReadLockfile(stateDir)
	if err != nil {
		return err
	}
	bad, err := autoupdate.State{Dir: paths.New("", stateDir, "").AutoUpdate()}.Bad()
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
		b := autoupdate.IsBad(bad, svc.Image, e.Available)
		starts := c.Action == reconciler.Create || c.Action == reconciler.Recreate
		policy, err := autoupdate.PolicyOf(svc)
		updates := err == nil && policy == autoupdate.PolicyRegistry && !autoupdate.Pinned(svc.Image)
		if autoupdate.Pinned(svc.Image) || (!updates && (b == nil || !starts)) {
			continue
		}
		if !header {
			fmt.Fprintf(w, "Image updates (from %s; `berth auto-update` applies them):\n", autoupdate.LockfilePath(stateDir))
			header = true
		}
		verb := "^ update"
		if !updates {
			verb = "= keep" // no policy, but apply would otherwise pull the bad digest
		}
		line := fmt.Sprintf("  %s %s/%s (%s): %s %s → %s, seen %s", verb, svc.Project, svc.Name, c.Unit, svc.Image,
			shortDigest(e.Digest), shortDigest(e.Available), e.Checked.Local().Format(time.DateTime))
		if b != nil {
			line += fmt.Sprintf(" (rolled back %s: %s; skipped until the tag moves", b.At.Local().Format(time.DateTime), b.Reason)
			if starts {
				line += fmt.Sprintf("; this %s keeps %s", c.Action, shortDigest(e.Digest))
			}
			line += ")"
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

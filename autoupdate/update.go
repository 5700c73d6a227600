package autoupdate

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// Source lists the services to check: every unit berth made, each with the
// spec it runs and the digest its container started from.
type Source interface {
	Targets(ctx context.Context) ([]Target, error)
}

// Images is the local image store as the updater uses it.
type Images interface {
	Resolver
	// Pull fetches ref (the updater passes repo@digest, so exactly the
	// digest that was checked is pulled) and returns its digest.
	Pull(ctx context.Context, ref string) (digest string, err error)
	// Tag points ref at an image the store holds, offline: the next start
	// of a container from ref runs it. Rollbacks are Tag + restart.
	Tag(ctx context.Context, ref, digest string) error
	// Prune forgets every reference not in keep and deletes unused data.
	Prune(ctx context.Context, keep []string) error
}

// DefaultSoak is the soak window when neither the settings nor the service
// name one: long enough to catch a crash loop at start or a failing first
// health check, short enough that an update of a few services stays quick.
const DefaultSoak = 30 * time.Second

// Options change one Run.
type Options struct {
	// DryRun checks and reports; nothing is pulled, restarted or recorded
	// except the lockfile's "available" digests.
	DryRun bool
	// NoRollback leaves a service that failed its soak on the new image.
	NoRollback bool
}

// Report is the outcome of one Run.
type Report struct {
	Started, Finished time.Time
	// Results has one entry per target, sorted by unit.
	Results []Result
	// Pruned is set when the image store was pruned after updates; PruneErr
	// when that failed (the updates stand).
	Pruned   bool
	PruneErr error
	// RateLimits are the rate-limit headers registries sent, by registry
	// host ("ratelimit-remaining: 76;w=21600, …"), when Images reports them.
	RateLimits map[string]string
}

// RateLimitReporter is implemented by Images that see registry responses.
type RateLimitReporter interface {
	RateLimits() map[string]string
}

// Failed reports whether anything failed or was rolled back.
func (r Report) Failed() bool { return Failed(r.Results) || r.PruneErr != nil }

// Updater checks every service and updates those whose policy's source names
// a new digest: pull while the old container runs, point the tag at the new
// digest, restart the unit, watch it through the soak window, and roll back
// to the previous digest (recorded bad, never retried until the tag moves)
// when it crashes, restarts, fails or turns unhealthy.
type Updater struct {
	Source Source
	Images Images
	Units  Units
	// Containers reads the digest a restarted container runs.
	Containers Containers
	// Health reads health status; nil means services are watched through
	// their unit only.
	Health Health
	State  State
	// StateDir holds the lockfile.
	StateDir string
	// Soak is the default soak window; a service's Soak overrides it.
	Soak time.Duration
	// Poll is how often a soaking service is looked at (default 250 ms).
	Poll time.Duration
	// Parallel bounds registry requests in flight (default 4).
	Parallel int
	// Exclusive, when set, is held while units are restarted (only when
	// something is to be updated), so the agent's reconciles and drift
	// repairs wait instead of acting on units in the middle of an update.
	Exclusive func(ctx context.Context) (unlock func(), err error)
	Log       *slog.Logger
}

// Run checks and, unless opts.DryRun, updates. The error is for what stops
// the whole run (listing units, the state dir); per-service and per-image
// failures are results in the Report.
func (u *Updater) Run(ctx context.Context, opts Options) (rep Report, err error) {
	rep = Report{Started: time.Now()}
	log := u.log()
	if !opts.DryRun {
		unlock, err := u.State.Lock(ctx)
		if err != nil {
			return rep, err
		}
		defer unlock()
	}
	t0 := time.Now()
	targets, err := u.Source.Targets(ctx)
	if err != nil {
		return rep, fmt.Errorf("listing services to update: %w", err)
	}
	parallel := u.Parallel
	if parallel < 1 {
		parallel = 4
	}
	t1 := time.Now()
	rep.Results = Check(ctx, targets, u.Images, parallel)
	t2 := time.Now()
	defer func() {
		log.Debug("auto-update check timings", "targets", len(targets), "listing", t1.Sub(t0), "check", t2.Sub(t1), "total", time.Since(t0))
	}()
	bad, err := u.State.Bad(ctx)
	if err != nil {
		return rep, err
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Status != StatusPending {
			continue
		}
		if b := IsBad(bad, r.Image, r.To); b != nil {
			r.Status = StatusSkipped
			r.Reason = fmt.Sprintf("digest rolled back at %s: %s; waiting for the tag to move", b.At.Format(time.RFC3339), b.Reason)
		}
	}
	u.recordChecked(ctx, rep.Results)
	defer func() {
		if rl, ok := u.Images.(RateLimitReporter); ok {
			rep.RateLimits = rl.RateLimits()
			for host, v := range rep.RateLimits {
				log.Info("registry rate limit", "registry", host, "headers", v)
			}
		}
	}()
	for _, r := range rep.Results {
		if r.Status == StatusFailed {
			log.Warn("auto-update check failed", "unit", r.Unit, "image", r.Image, "err", r.Err)
		}
	}
	if opts.DryRun {
		rep.Finished = time.Now()
		return rep, nil
	}

	updated := false
	gs := groups(rep.Results)
	if len(gs) > 0 && u.Exclusive != nil {
		unlock, err := u.Exclusive(ctx)
		if err != nil {
			return rep, err
		}
		defer unlock()
	}
	for _, g := range gs {
		if u.updateGroup(ctx, rep.Results, g, opts) {
			updated = true
		}
	}
	if updated {
		rep.Pruned = true
		if rep.PruneErr = u.prune(ctx, targets, rep.Results); rep.PruneErr != nil {
			log.Error("pruning images after auto-update", "err", rep.PruneErr)
		}
	}
	rep.Finished = time.Now()
	return rep, nil
}

func (u *Updater) log() *slog.Logger {
	if u.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return u.Log
}

// recordChecked notes in the lockfile what the registry checks found.
func (u *Updater) recordChecked(ctx context.Context, results []Result) {
	if u.StateDir == "" {
		return
	}
	now := time.Now().UTC()
	err := UpdateLockfile(ctx, u.StateDir, func(l *Lockfile) {
		for _, r := range results {
			// Only the registry's answer is the tag's: a local check says
			// what this host pulled, which the lockfile already knows.
			if r.Policy == PolicyRegistry && r.To != "" &&
				(r.Status == StatusPending || r.Status == StatusUnchanged || r.Status == StatusSkipped) {
				l.Checked(r.Image, r.From, r.To, now)
			}
		}
	})
	if err != nil {
		u.log().Warn("recording checked digests in the lockfile", "err", err)
	}
}

// group is the pending results sharing one image and new digest, in
// dependency order: they get one pull and fail or succeed together.
type group struct {
	image, to string
	members   []int // indices into results
}

// groups collects pending results by (image, digest), each group's members
// and the groups themselves in dependency order.
func groups(results []Result) []*group {
	var pending []int
	for i, r := range results {
		if r.Status == StatusPending {
			pending = append(pending, i)
		}
	}
	ordered := dependencyOrder(results, pending)
	var out []*group
	byKey := map[[2]string]*group{}
	for _, i := range ordered {
		k := [2]string{results[i].Image, results[i].To}
		g := byKey[k]
		if g == nil {
			g = &group{image: k[0], to: k[1]}
			byKey[k] = g
			out = append(out, g)
		}
		g.members = append(g.members, i)
	}
	return out
}

// updateGroup updates the services of g one by one. When one fails, every
// member already updated is rolled back too (they share the tag, which now
// points at the old digest again) and the rest are skipped. It reports
// whether any member ended on the new digest.
func (u *Updater) updateGroup(ctx context.Context, results []Result, g *group, opts Options) bool {
	log := u.log().With("image", g.image, "to", g.to)
	fail := func(err error) {
		for _, i := range g.members {
			results[i].Status, results[i].Err = StatusFailed, err
			u.event(ctx, results[i], "")
		}
	}
	// Keep what each member runs now under its digest reference: the image
	// store then spares it when pruning, and a rollback is offline.
	for _, i := range g.members {
		r := &results[i]
		if err := u.Images.Tag(ctx, DigestRef(r.Image, r.From), r.From); err != nil {
			fail(fmt.Errorf("keeping the running image %s as rollback target: %w", shortDigest(r.From), err))
			return false
		}
	}
	log.Info("auto-update pulling", "services", len(g.members))
	if _, err := u.Images.Pull(ctx, DigestRef(g.image, g.to)); err != nil {
		fail(fmt.Errorf("pulling %s: %w", shortDigest(g.to), err))
		return false
	}
	if err := u.Images.Tag(ctx, g.image, g.to); err != nil {
		fail(err)
		return false
	}
	// Services depending on a member go down and up with it; whatever
	// happens below, those that ran before run again afterwards.
	deps := dependents(results, g.members)
	wasUp := u.upNow(ctx, results, deps)
	defer u.restoreDependents(ctx, results, deps, wasUp)

	var done []int // members updated so far
	for n, i := range g.members {
		r := &results[i]
		err := u.recreate(ctx, r, g.to)
		if err == nil {
			done = append(done, i)
			continue
		}
		log.Warn("auto-update failed", "unit", r.Unit, "err", err)
		if opts.NoRollback {
			r.Status, r.Err = StatusFailed, fmt.Errorf("%w (rollback disabled)", err)
			u.event(ctx, *r, "")
			u.markBad(ctx, g, err)
			for _, j := range g.members[n+1:] {
				results[j].Status, results[j].Reason = StatusSkipped, fmt.Sprintf("%s failed on this digest", r.Unit)
			}
			return len(done) > 0
		}
		// Back to the previous digest for this member and those before it,
		// in reverse dependency order.
		u.markBad(ctx, g, err)
		r.Err = err
		u.rollback(ctx, r, err.Error())
		for k := len(done) - 1; k >= 0; k-- {
			d := &results[done[k]]
			d.Err = fmt.Errorf("%s failed on the same digest: %w", r.Unit, err)
			u.rollback(ctx, d, d.Err.Error())
		}
		for _, j := range g.members[n+1:] {
			results[j].Status, results[j].Reason = StatusSkipped, fmt.Sprintf("%s failed on this digest and was rolled back", r.Unit)
			u.restore(ctx, &results[j])
		}
		return false
	}
	for _, i := range done {
		r := &results[i]
		r.Status = StatusUpdated
		u.event(ctx, *r, "")
		if err := u.State.SetRollbackTarget(ctx, r.Service.ID(), RollbackTarget{Image: r.Image, Digest: r.From}); err != nil {
			log.Warn("recording rollback target", "unit", r.Unit, "err", err)
		}
	}
	u.recordResolved(ctx, g.image, g.to)
	return true
}

// recreate restarts r's unit on digest and watches it through its soak. A
// unit that systemd already restarted on digest, because it Requires= a
// service updated before it, is only watched.
func (u *Updater) recreate(ctx context.Context, r *Result, digest string) error {
	if u.runs(ctx, r, digest) {
		u.log().Info("auto-update watching", "unit", r.Unit, "to", digest, "why", "restarted with its dependency")
		return u.watch(ctx, r.Unit, r.Service, digest, u.soakOf(r.Service))
	}
	u.log().Info("auto-update restarting", "unit", r.Unit, "from", r.From, "to", digest)
	if err := u.Units.Restart(ctx, r.Unit); err != nil {
		if st, serr := u.Units.State(ctx, r.Unit); serr == nil {
			return fmt.Errorf("%w (unit %s/%s, result %s)", err, st.ActiveState, st.SubState, st.Result)
		}
		return err
	}
	return u.watch(ctx, r.Unit, r.Service, digest, u.soakOf(r.Service))
}

// rollback points the tag back at r.From and restarts r's unit; r ends
// rolled-back, or failed when even that does not come up.
func (u *Updater) rollback(ctx context.Context, r *Result, reason string) {
	log := u.log().With("unit", r.Unit, "image", r.Image, "from", r.To, "to", r.From)
	err := u.Images.Tag(ctx, r.Image, r.From)
	if err == nil {
		err = u.start(ctx, r.Unit, r.Service)
	}
	if err == nil {
		// The previous image ran before; only make sure it is up again.
		err = u.watch(ctx, r.Unit, r.Service, r.From, 0)
	}
	if err != nil {
		r.Status = StatusFailed
		r.Err = fmt.Errorf("%v; rolling back to %s failed too: %w", r.Err, shortDigest(r.From), err)
		log.Error("auto-update rollback failed", "err", err)
		u.event(ctx, *r, reason)
		return
	}
	r.Status = StatusRolledBack
	log.Warn("auto-update rolled back", "reason", reason)
	u.event(ctx, *r, reason)
}

// runs reports whether r's unit is active on digest now.
func (u *Updater) runs(ctx context.Context, r *Result, digest string) bool {
	if u.Containers == nil {
		return false
	}
	st, err := u.Units.State(ctx, r.Unit)
	if err != nil || st.ActiveState != "active" {
		return false
	}
	d, err := u.Containers.RunningDigest(ctx, r.Service)
	return err == nil && d == digest
}

// restore makes sure a member that was not (or no longer) updated runs
// r.From again: systemd restarts units that Requires= a restarted or failed
// dependency, so they may have started on the bad digest or be stopped.
func (u *Updater) restore(ctx context.Context, r *Result) {
	if u.runs(ctx, r, r.From) {
		return
	}
	u.log().Info("auto-update restoring", "unit", r.Unit, "to", r.From, "why", "its dependency was restarted")
	err := u.start(ctx, r.Unit, r.Service)
	if err == nil {
		err = u.watch(ctx, r.Unit, r.Service, r.From, 0)
	}
	if err != nil {
		r.Status, r.Err = StatusFailed, fmt.Errorf("restoring %s after its dependency's rollback: %w", shortDigest(r.From), err)
		u.event(ctx, *r, "")
	}
}

func (u *Updater) soakOf(svc *model.Service) time.Duration {
	if svc != nil && svc.Soak > 0 {
		return svc.Soak
	}
	if u.Soak > 0 {
		return u.Soak
	}
	return DefaultSoak
}

func (u *Updater) markBad(ctx context.Context, g *group, err error) {
	if e := u.State.MarkBad(ctx, g.image, BadDigest{Digest: g.to, Reason: err.Error(), At: time.Now().UTC()}); e != nil {
		u.log().Error("recording bad digest", "image", g.image, "digest", g.to, "err", e)
	}
}

// event appends r to the history and logs it.
func (u *Updater) event(ctx context.Context, r Result, reason string) {
	e := Event{Time: time.Now().UTC(), Unit: r.Unit, Image: r.Image, From: r.From, To: r.To, Result: r.Status, Reason: reason}
	if r.Service != nil {
		e.Project, e.Service = r.Service.Project, r.Service.Name
	}
	if e.Reason == "" && r.Err != nil {
		e.Reason = r.Err.Error()
	}
	u.log().Info("auto-update result", "unit", e.Unit, "image", e.Image, "from", e.From, "to", e.To,
		"result", string(e.Result), "reason", e.Reason)
	if err := u.State.Record(ctx, e); err != nil {
		u.log().Error("writing update history", "err", err)
	}
}

func (u *Updater) recordResolved(ctx context.Context, image, digest string) {
	if u.StateDir == "" {
		return
	}
	err := UpdateLockfile(ctx, u.StateDir, func(l *Lockfile) { l.Resolved(image, digest, "auto-update", time.Now().UTC()) })
	if err != nil {
		u.log().Warn("recording the new digest in the lockfile", "image", image, "err", err)
	}
}

// prune deletes images that no service runs or names and that are no
// rollback target. It prunes nothing when a running container's image is
// not known, since its layers could go from under it.
func (u *Updater) prune(ctx context.Context, targets []Target, results []Result) error {
	keep := map[string]bool{}
	for _, t := range targets {
		if t.Service == nil || t.Service.Image == "" {
			return fmt.Errorf("unit %s has no readable spec; not pruning", t.Unit)
		}
		keep[t.Service.Image] = true
	}
	for _, r := range results {
		if r.Service == nil {
			continue
		}
		running := r.From
		switch r.Status {
		case StatusUpdated:
			running = r.To
		case StatusFailed:
			if r.To != "" && !Pinned(r.Image) {
				// An update was tried: either digest may be running now.
				running = ""
				keep[DigestRef(r.Image, r.To)] = true
				keep[DigestRef(r.Image, r.From)] = true
			}
		}
		if running == "" {
			continue
		}
		ref := DigestRef(r.Image, running)
		if Pinned(r.Image) {
			ref = r.Image
		} else if err := u.Images.Tag(ctx, ref, running); err != nil {
			return fmt.Errorf("keeping the image %s runs: %w", r.Unit, err)
		}
		keep[ref] = true
	}
	rts, err := u.State.RollbackTargets(ctx)
	if err != nil {
		return err
	}
	for _, rt := range rts {
		if keep[rt.Image] { // the service still exists and names this image
			keep[DigestRef(rt.Image, rt.Digest)] = true
		}
	}
	list := make([]string, 0, len(keep))
	for k := range keep {
		list = append(list, k)
	}
	return u.Images.Prune(ctx, list)
}

// DigestRef names digest in image's repository: "reg/app:1" + "sha256:…" is
// "reg/app@sha256:…".
func DigestRef(image, digest string) string {
	repo := image
	if at := strings.Index(repo, "@"); at >= 0 {
		repo = repo[:at]
	}
	if c := strings.LastIndex(repo, ":"); c > strings.LastIndex(repo, "/") {
		repo = repo[:c]
	}
	return repo + "@" + digest
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

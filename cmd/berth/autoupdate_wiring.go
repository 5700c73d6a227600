package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/compose/model"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/berth-dev/berth/autoupdate"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/runtime/image"
	"github.com/berth-dev/berth/runtime/paths"
	"github.com/berth-dev/berth/systemd"
	"github.com/berth-dev/berth/units"
)

// updater wires auto-update to this app's systemd client and image store.
// The agent runs it on its schedule: a.updater().Run(ctx, autoupdate.Options{}).
func (a *app) updater() *autoupdate.Updater {
	return &autoupdate.Updater{
		Source:     updateSource{a},
		Images:     updateImages{a.store, a.limits},
		Units:      updateUnits{c: a.sd, a: a},
		Containers: updateContainers{a.g.RunDir},
		Health:     updateHealth{a.g.RunDir},
		State:      autoupdate.State{Dir: paths.New("", a.g.StateDir, "").AutoUpdate()},
		StateDir:   a.g.StateDir,
		Soak:       a.settings.AutoUpdate.Soak,
		Log:        a.log,
		Exclusive: func(ctx context.Context) (func(), error) {
			return reconciler.Lock(ctx, a.g.StateDir, func() { a.log.Info("auto-update waiting for a reconcile to finish") })
		},
	}
}

// updateSource lists berth's units as auto-update targets.
type updateSource struct{ a *app }

func (s updateSource) Targets(ctx context.Context) ([]autoupdate.Target, error) {
	return autoUpdateTargets(ctx, s.a, s.a.g)
}

// updateImages is the image store as auto-update uses it.
type updateImages struct {
	s      *image.Store
	limits *rateLimits
}

// RateLimits implements autoupdate.RateLimitReporter.
func (i updateImages) RateLimits() map[string]string { return i.limits.RateLimits() }

var (
	_ autoupdate.Images        = updateImages{}
	_ autoupdate.LocalResolver = updateImages{}
)

func (i updateImages) Resolve(ctx context.Context, ref string) (string, error) {
	return i.s.Resolve(ctx, ref)
}

func (i updateImages) LocalDigest(ctx context.Context, ref string) (string, error) {
	img, err := i.s.Get(ctx, ref)
	if err != nil {
		return "", err
	}
	return img.Digest, nil
}

func (i updateImages) Pull(ctx context.Context, ref string) (string, error) {
	img, err := i.s.Pull(ctx, ref)
	if err != nil {
		return "", err
	}
	return img.Digest, nil
}

func (i updateImages) Tag(ctx context.Context, ref, digest string) error {
	return i.s.Tag(ctx, ref, digest)
}

func (i updateImages) Prune(ctx context.Context, keep []string) error {
	return i.s.Prune(ctx, keep)
}

// updateUnits is systemd as auto-update uses it. It recreates a transient
// unit systemd unloaded from the frozen spec, as apply creates it.
type updateUnits struct {
	c *systemd.Client
	a *app // its reconciler's unit config and manager
}

var (
	_ autoupdate.Units     = updateUnits{}
	_ autoupdate.Recreator = updateUnits{}
)

// Recreate implements autoupdate.Recreator.
func (u updateUnits) Recreate(ctx context.Context, unit string, svc *model.Service) error {
	spec, err := paths.New("", u.a.g.StateDir, "").SpecStore().Path(svc)
	if err != nil {
		return err
	}
	set, err := units.Build(u.a.rec.Units, svc, spec)
	if err != nil {
		return err
	}
	if set.Service.Name != unit {
		return fmt.Errorf("the spec of %s makes unit %s", unit, set.Service.Name)
	}
	err = u.a.rec.Manager.Start(ctx, set.Transient())
	if err != nil {
		// The agent may have put it back meanwhile.
		if st, gerr := u.c.Get(ctx, unit); gerr == nil && st.LoadState == "loaded" && st.ActiveState == "active" {
			return nil
		}
	}
	return err
}

func (u updateUnits) Restart(ctx context.Context, unit string) error { return u.c.Restart(ctx, unit) }

func (u updateUnits) ResetFailed(ctx context.Context, unit string) error {
	return u.c.ResetFailed(ctx, unit)
}

func (u updateUnits) State(ctx context.Context, unit string) (autoupdate.UnitState, error) {
	st, err := u.c.Get(ctx, unit)
	if err != nil {
		return autoupdate.UnitState{}, err
	}
	return autoupdate.UnitState{LoadState: st.LoadState, ActiveState: st.ActiveState, SubState: st.SubState, Result: st.Result,
		MainPID: st.MainPID, Restarts: st.Restarts}, nil
}

// updateContainers reads the digest a container was started from out of the
// state berth run wrote.
type updateContainers struct{ runDir string }

func (c updateContainers) RunningDigest(ctx context.Context, svc *model.Service) (string, error) {
	st, err := runtime.ReadState(c.runDir, svc.ID())
	if err != nil {
		return "", err
	}
	return st.Digest, nil
}

// updateHealth reads the health record `berth healthcheck` keeps in
// <run>/containers/<id>/health.json; it starts over with each container.
type updateHealth struct{ runDir string }

func (h updateHealth) Status(ctx context.Context, svc *model.Service) (autoupdate.HealthStatus, error) {
	rec, err := runtime.ReadHealth(h.runDir, svc.ID())
	if err != nil {
		// Being rewritten, or gone with a stopped container: the unit
		// state decides this poll; ask again next time.
		return autoupdate.HealthUnknown, nil
	}
	if rec == nil || rec.Health == nil {
		return autoupdate.HealthUnknown, nil
	}
	return autoupdate.HealthStatus(rec.Health.Status), nil
}

// registryKeychain is where berth finds registry credentials: containers'
// auth.json in the settings dir (/etc/berth/auth.json), then the usual
// places (docker's config.json, $REGISTRY_AUTH_FILE, containers' auth.json
// under $XDG_RUNTIME_DIR or ~/.config).
func registryKeychain(g *globalOptions) authn.Keychain {
	return authn.NewMultiKeychain(image.FileKeychain(paths.New(g.ConfigDir, "", "").AuthFile()), authn.DefaultKeychain)
}

// rateLimits remembers the rate-limit headers each registry sent last
// (Docker Hub's ratelimit-limit/-remaining, the IETF RateLimit-* fields,
// X-RateLimit-*, and Retry-After on a 429), so auto-update can report them.
type rateLimits struct {
	mu     sync.Mutex
	byHost map[string]string
}

// record is the image store's OnResponse hook.
func (l *rateLimits) record(resp *http.Response) {
	var parts []string
	for k, vs := range resp.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "ratelimit-") || strings.HasPrefix(lk, "x-ratelimit-") ||
			(lk == "retry-after" && resp.StatusCode == http.StatusTooManyRequests) {
			parts = append(parts, lk+": "+strings.Join(vs, ","))
		}
	}
	if len(parts) == 0 || resp.Request == nil {
		return
	}
	sort.Strings(parts)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byHost == nil {
		l.byHost = map[string]string{}
	}
	l.byHost[resp.Request.URL.Host] = strings.Join(parts, ", ")
}

// RateLimits implements autoupdate.RateLimitReporter.
func (l *rateLimits) RateLimits() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.byHost)
}

// autoUpdateScheduler is auto-update on the schedule berth.yaml names
// (autoupdate.schedule, randomized_delay; default daily plus up to 15 min).
// The agent runs it as one of its jobs (agentJobs).
func (a *app) autoUpdateScheduler() (*autoupdate.Scheduler, error) {
	au := a.settings.AutoUpdate
	delay := time.Duration(0) // ParseSchedule's default
	if au.RandomizedDelay != nil {
		delay = *au.RandomizedDelay
		if delay == 0 {
			delay = -1 // set to 0 in berth.yaml: no delay
		}
	}
	sched, err := autoupdate.ParseSchedule(au.Schedule, delay)
	if err != nil {
		return nil, fmt.Errorf("%s: autoupdate.schedule: %w", paths.New(a.g.ConfigDir, "", "").Settings(), err)
	}
	u := a.updater()
	return &autoupdate.Scheduler{Schedule: sched, Run: u.Run, Log: a.log}, nil
}

// keepGoodDigest runs before apply pulls ref. When the digest the registry
// serves for ref is one auto-update rolled back (bad.json), pulling it would
// put the failed image back under the tag, and the next (re)start for any
// reason would run it. The store keeps the digest ref has instead (or gets
// the newest rollback target back), a warning says so, and kept is that
// digest; bad is the registry's. Without a bad digest for ref this costs no
// registry request.
func keepGoodDigest(ctx context.Context, s *image.Store, stateDir string, log *slog.Logger, ref string) (kept, bad string, ok bool) {
	st := autoupdate.State{Dir: paths.New("", stateDir, "").AutoUpdate()}
	bads, err := st.Bad()
	if err != nil || len(bads[ref]) == 0 {
		return "", "", false
	}
	remote, err := s.Resolve(ctx, ref)
	if err != nil {
		return "", "", false // the pull reports it
	}
	b := autoupdate.IsBad(bads, ref, remote)
	if b == nil {
		return "", "", false
	}
	why := fmt.Sprintf("rolled back by auto-update at %s: %s", b.At.Local().Format(time.DateTime), b.Reason)
	if img, err := s.Get(ctx, ref); err == nil && img.Digest != remote {
		log.Warn("not pulling a digest recorded bad; keeping the current one", "image", ref, "bad", remote, "keeping", img.Digest, "why", why)
		return img.Digest, remote, true
	}
	rts, _ := st.RollbackTargets()
	for _, id := range slices.Sorted(maps.Keys(rts)) {
		rt := rts[id]
		if rt.Image != ref || rt.Digest == remote || autoupdate.IsBad(bads, ref, rt.Digest) != nil {
			continue
		}
		if err := s.Tag(ctx, ref, rt.Digest); err == nil {
			log.Warn("not pulling a digest recorded bad; using the rollback target", "image", ref, "bad", remote, "keeping", rt.Digest, "why", why)
			return rt.Digest, remote, true
		}
	}
	log.Warn("pulling a digest recorded bad: no other image of this tag is stored", "image", ref, "digest", remote, "why", why)
	return "", "", false
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
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
		Source:     a.updateSource(),
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
func (a *app) updateSource() autoupdate.UnitSource {
	return autoupdate.UnitSource{
		Units:      updateUnitList{a.sd},
		Specs:      paths.New("", a.g.StateDir, "").SpecStore(),
		Containers: updateContainers{a.g.RunDir},
		Log:        a.log,
	}
}

// updateUnitList reads berth's labels off the units systemd has.
type updateUnitList struct{ c *systemd.Client }

func (l updateUnitList) ListUnits(ctx context.Context) ([]autoupdate.Unit, error) {
	us, err := l.c.List(ctx, systemd.ListOptions{Patterns: []string{units.Prefix + "*.service"}, Props: []string{systemd.PropEnvironment}})
	if err != nil {
		return nil, err
	}
	out := make([]autoupdate.Unit, 0, len(us))
	for _, u := range us {
		if units.IsInstance(u.Name) {
			continue // a connection of an accepting socket: never restarted
		}
		env := u.Environment
		out = append(out, autoupdate.Unit{
			Name: u.Name, Project: env[units.EnvProject], Service: env[units.EnvService],
			Hash: env[units.EnvHash], Image: env[units.EnvImage],
			NoImage: units.IsPodService(env[units.EnvService]), // a pod sandbox runs no image
		})
	}
	return out, nil
}

// puller is apply's image puller: autoupdate.Puller keeps a digest
// auto-update rolled back out of the store and records the lockfile.
func puller(store *image.Store, limits *rateLimits, stateDir string, log *slog.Logger) autoupdate.Puller {
	return autoupdate.Puller{
		Images:   updateImages{store, limits},
		State:    autoupdate.State{Dir: paths.New("", stateDir, "").AutoUpdate()},
		StateDir: stateDir,
		Log:      log,
	}
}

var _ reconciler.Puller = autoupdate.Puller{}

// updateImages is the image store as auto-update uses it.
type updateImages struct {
	s      *image.Store
	limits *rateLimits
}

// RateLimits implements autoupdate.RateLimitReporter.
func (i updateImages) RateLimits() map[string]string { return i.limits.RateLimits() }

var (
	_ autoupdate.Images     = updateImages{}
	_ autoupdate.PullImages = updateImages{}
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
	return u.a.rec.Manager.Start(ctx, set.Transient())
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

// registryKeychain is berth's one credential chain (image.CredentialChain),
// the launcher's too: <config>/auth.json first, then docker's and
// containers' usual places.
func registryKeychain(g *globalOptions) authn.Keychain {
	return image.CredentialChain(paths.New(g.ConfigDir, "", "").AuthFile(), g.logger())
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

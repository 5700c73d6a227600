package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/berth-dev/berth/cmd/internal/settings"
	"github.com/berth-dev/berth/compose/model"

	sd "github.com/coreos/go-systemd/v22/dbus"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime/image"
	"github.com/berth-dev/berth/runtime/network"
	"github.com/berth-dev/berth/runtime/paths"
	"github.com/berth-dev/berth/systemd"
	"github.com/berth-dev/berth/systemd/journal"
	"github.com/berth-dev/berth/units"
)

// app is what the user-facing commands share, wired once per invocation.
type app struct {
	g        *globalOptions
	log      *slog.Logger
	settings *settings.Settings
	sd       *systemd.Client
	store    *image.Store
	limits   *rateLimits // registry rate-limit headers seen by store
	rec      *reconciler.Reconciler
	// applying makes plan reserve network addresses (berth apply);
	// entries are what the last plan loaded, for network GC.
	applying bool
	entries  []model.Entry
}

func (a *app) netPaths() network.Paths {
	return network.Paths{StateDir: a.g.StateDir, RunDir: a.g.RunDir}
}

func newApp(ctx context.Context, g *globalOptions) (*app, error) {
	log := g.logger()
	st, err := loadSettings(g.ConfigDir)
	if err != nil {
		return nil, err
	}
	warnSettings(log, st)
	// A unit that fails to start reports its launcher's error from the
	// journal, not systemd's bare "job failed".
	sd, err := systemd.Connect(ctx, systemd.WithExplainer(journal.Reader{}))
	if err != nil {
		return nil, err
	}
	ucfg, err := unitConfig(g, "")
	if err != nil {
		sd.Close()
		return nil, err
	}
	a := &app{g: g, log: log, settings: st, sd: sd, limits: &rateLimits{}}
	store, err := image.NewStore(paths.New("", g.StateDir, "").Images(), image.Options{Insecure: st.InsecureRegistries,
		Keychain: registryKeychain(g), OnResponse: a.limits.record, Log: log})
	if err != nil {
		sd.Close()
		return nil, err
	}
	a.store = store
	a.rec = &reconciler.Reconciler{
		Manager:  manager{c: sd},
		Puller:   puller(store, a.limits, g.StateDir, log),
		Units:    ucfg,
		StateDir: g.StateDir,
		Log:      log,
	}
	a.rec.Builder = a.builder(false)
	return a, nil
}

func (a *app) Close() { a.sd.Close() }

// load loads the config dir; other loaders (Kubernetes YAML) plug in here
// or in compose.LoadDir, and the agent and every command see the same.
func (a *app) load(ctx context.Context, dir string) ([]model.Entry, error) {
	return loadConfigDir(ctx, dir)
}

// loadDesired is the one path from the config dir to desired state, shared
// by the agent, plan/apply and start/stop/restart: load every entry (a.load),
// check that the named projects exist, give services the image's HEALTHCHECK
// where Compose asks for it (settleImageHealth), then fill in network addresses —
// reserved on disk when reserve is set (the agent, apply; only for the named
// projects when some are named), else only looked up (plan). A project whose
// networks fail gets its entry's Err, so it keeps its running units (and
// the agent its last-good state).
func (a *app) loadDesired(ctx context.Context, dir string, projects []string, reserve bool) ([]model.Entry, error) {
	entries, err := a.load(ctx, dir)
	if err != nil {
		return nil, err
	}
	for _, p := range projects {
		if !hasEntry(entries, p) {
			return nil, fmt.Errorf("no project %q in %s", p, dir)
		}
	}
	settleImageHealth(ctx, newBuiltImages(a.store, entries), a.log, entries)
	if err := network.Prepare(ctx, a.netPaths(), entries, projects, reserve); err != nil {
		return nil, err
	}
	return entries, nil
}

// loadAgent is the agent's Source.Load: loadDesired of every project,
// reserving addresses as apply does.
func (a *app) loadAgent(ctx context.Context, dir string) ([]model.Entry, error) {
	return a.loadDesired(ctx, dir, nil, true)
}

// manager adapts the systemd client to the reconciler's interface.
type manager struct {
	c *systemd.Client
	// cache, when set (the agent), spares re-lists the reads of units
	// that did not change.
	cache *systemd.UnitCache
}

var _ reconciler.Manager = manager{}

// observeProps are what the reconciler compares: the environment (project,
// service, spec hash) and the limits it checks for drift.
var observeProps = []string{systemd.PropEnvironment, systemd.PropMemoryMax, systemd.PropTasksMax, systemd.PropCPUQuotaPerSecUSec}

func (m manager) Observe(ctx context.Context) ([]reconciler.Observed, error) {
	us, err := m.c.List(ctx, systemd.ListOptions{Patterns: []string{units.Prefix + "*.service"}, Props: observeProps, Cache: m.cache})
	if err != nil {
		return nil, err
	}
	var out []reconciler.Observed
	for _, u := range us {
		out = append(out, reconciler.Observed{
			Unit:        u.Name,
			Project:     u.Environment[units.EnvProject],
			Service:     u.Environment[units.EnvService],
			Hash:        u.Environment[units.EnvHash],
			ActiveState: u.ActiveState,
			UnitFile:    u.Environment[units.EnvUnitFile] == "1",
			Limits: &reconciler.Limits{
				MemoryMax:          u.Limits.MemoryMax,
				TasksMax:           u.Limits.TasksMax,
				CPUQuotaPerSecUSec: u.Limits.CPUQuotaPerSecUSec,
			},
		})
	}
	return out, nil
}

func (m manager) Start(ctx context.Context, u *units.Unit) error {
	props, err := u.Properties()
	if err != nil {
		return err
	}
	var aux []sd.PropertyCollection
	for _, a := range u.Aux {
		ap, err := a.Properties()
		if err != nil {
			return err
		}
		aux = append(aux, sd.PropertyCollection{Name: a.Name, Properties: ap})
	}
	return m.c.StartTransient(ctx, u.Name, props, aux...)
}

func (m manager) Stop(ctx context.Context, unit string) error { return m.c.Stop(ctx, unit) }

// Writes counts the state-changing D-Bus calls made so far.
func (m manager) Writes() int64 { return m.c.Writes() }

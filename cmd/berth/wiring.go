package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/berth-dev/berth/autoupdate"
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
		Manager: manager{c: sd},
		Puller:  puller(store, a.limits, g.StateDir, log),
		Networks: network.Allocator{Paths: network.Paths{StateDir: g.StateDir, RunDir: g.RunDir},
			PluginDir: st.CNIPluginDir, Log: log},
		Units:    ucfg,
		StateDir: g.StateDir,
		Log:      log,
	}
	a.rec.Builder = a.builder(false)
	// A recreate is judged as auto-update judges a restart: active, healthy
	// (its health check's record), no crash through the soak.
	a.rec.Watch = autoupdate.Watch{Units: updateUnits{c: sd, a: a}, Health: updateHealth{g.RunDir}}
	return a, nil
}

func (a *app) Close() { a.sd.Close() }

// load loads the config dir as it is (berth pull).
func (a *app) load(ctx context.Context, dir string) ([]model.Entry, error) {
	return loadConfigDir(ctx, dir)
}

// loadDesired is the one path from the config dir to desired state, shared
// by the agent, plan/apply, start/stop/restart and down: load every entry
// (Compose, Kubernetes YAML), check that the named projects exist, and give
// services the image's HEALTHCHECK where Compose asks for it
// (settleImageHealth). It writes nothing: network addresses are allocated
// by the reconcile pass.
func (a *app) loadDesired(ctx context.Context, projects []string) ([]model.Entry, error) {
	entries, err := loadConfigDir(ctx, a.g.ConfigDir)
	if err != nil {
		return nil, err
	}
	for _, p := range projects {
		if !hasEntry(entries, p) {
			return nil, fmt.Errorf("no project %q in %s", p, a.g.ConfigDir)
		}
	}
	settleImageHealth(ctx, newBuiltImages(a.store, entries), a.log, entries)
	return entries, nil
}

// loader is loadDesired as a pass's Load: fresh entries every time.
func (a *app) loader(projects []string) func(ctx context.Context) (reconciler.Loaded, error) {
	return func(ctx context.Context) (reconciler.Loaded, error) {
		entries, err := a.loadDesired(ctx, projects)
		return reconciler.Loaded{Entries: entries, Reloaded: true}, err
	}
}

// loadAgent is the agent's Source.Load.
func (a *app) loadAgent(ctx context.Context, _ string) ([]model.Entry, error) {
	return a.loadDesired(ctx, nil)
}

// manager adapts the systemd client to the reconciler's interface.
type manager struct {
	c *systemd.Client
	// cache, when set (the agent), spares re-lists the reads of units
	// that did not change.
	cache *systemd.UnitCache
}

var (
	_ reconciler.Manager          = manager{}
	_ reconciler.Restarter        = manager{}
	_ reconciler.RuntimeUnitFiles = manager{}
	_ reconciler.Networks         = network.Allocator{}
)

// observeProps are what the reconciler compares: the environment (project,
// service, spec hash) and the limits it checks for drift.
var observeProps = []string{systemd.PropEnvironment, systemd.PropMemoryMax, systemd.PropTasksMax, systemd.PropCPUQuotaPerSecUSec}

func (m manager) Observe(ctx context.Context) ([]reconciler.Observed, error) {
	// Sockets too: an accepting service (accept: true) is its socket.
	us, err := m.c.List(ctx, systemd.ListOptions{Patterns: []string{units.Prefix + "*.service", units.Prefix + "*.socket"}, Props: observeProps, Cache: m.cache})
	if err != nil {
		return nil, err
	}
	var out []reconciler.Observed
	for _, u := range us {
		if units.IsInstance(u.Name) {
			// A connection of an accepting socket: its socket owns it.
			continue
		}
		socket := strings.HasSuffix(u.Name, ".socket")
		if socket && u.Environment[units.EnvProject] == "" {
			continue // the socket of a socket-activated service unit
		}
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
		if socket {
			out[len(out)-1].Limits = nil // the limits are its instances'
		}
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
	// Units that cannot be transient (an accepting socket's template)
	// are runtime unit files, written first; a failed start removes them.
	for _, f := range u.Files {
		if err := m.c.WriteRuntimeUnit(ctx, f.Name, f.Text()); err != nil {
			return err
		}
	}
	if err := m.c.StartTransient(ctx, u.Name, props, aux...); err != nil {
		for _, f := range u.Files {
			err = errors.Join(err, m.c.RemoveRuntimeUnit(context.WithoutCancel(ctx), f.Name))
		}
		return err
	}
	return nil
}

func (m manager) RemoveRuntimeUnit(ctx context.Context, name string) error {
	return m.c.RemoveRuntimeUnit(ctx, name)
}

func (m manager) RuntimeUnits(ctx context.Context, pattern string) ([]string, error) {
	return m.c.RuntimeUnits(ctx, pattern)
}

func (m manager) Stop(ctx context.Context, unit string) error { return m.c.Stop(ctx, unit) }

func (m manager) Restart(ctx context.Context, unit string) error { return m.c.Restart(ctx, unit) }

// Writes counts the state-changing D-Bus calls made so far.
func (m manager) Writes() int64 { return m.c.Writes() }

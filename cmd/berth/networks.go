package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime/network"
)

// gcNetworks runs after apply: it re-renders the hosts files of running
// containers (peers added or re-addressed) and removes reservations,
// attachments and networks that no loaded project declares any more.
func (a *app) gcNetworks(ctx context.Context, projects []string) error {
	return a.gcNetworksOf(ctx, a.entries, projects)
}

func (a *app) gcNetworksOf(ctx context.Context, entries []model.Entry, projects []string) error {
	p := a.netPaths()
	return errors.Join(
		network.GC(ctx, p, a.settings.CNIPluginDir, entries, projects, a.log),
		network.RefreshHosts(p),
	)
}

// netGCInterval bounds how long the agent goes without a network GC while
// nothing changes: a launcher or cleanup killed half-way leaves attachments
// that only a GC removes.
const netGCInterval = 10 * time.Minute

// agentNetGC is the agent's network GC (reconciler.Agent.AfterReconcile),
// as apply's: it runs when the reconcile changed units (removed services'
// attachments, new peers for the hosts files), when the loaded networks
// and reservations differ from those at its last run (a network dropped
// from a file), at the first reconcile, and netGCInterval after its last
// run. Otherwise, as in a no-op reconcile, it costs a comparison; it
// fingerprints the entries only when the config dir was reloaded.
type agentNetGC struct {
	gc   func(ctx context.Context, entries []model.Entry) error
	log  *slog.Logger
	now  func() time.Time
	last uint64
	at   time.Time
}

func newAgentNetGC(a *app) *agentNetGC {
	return &agentNetGC{
		gc:  func(ctx context.Context, entries []model.Entry) error { return a.gcNetworksOf(ctx, entries, nil) },
		log: a.log,
		now: time.Now,
	}
}

func (g *agentNetGC) run(ctx context.Context, entries []model.Entry, rec *reconciler.ReconcileRecord) error {
	fp := g.last
	if rec.Reloaded {
		fp = networkFingerprint(entries)
	}
	if rec.Changes == 0 && fp == g.last && !g.at.IsZero() && g.now().Sub(g.at) < netGCInterval {
		return nil
	}
	t0 := g.now()
	err := g.gc(ctx, entries)
	g.last, g.at = fp, g.now()
	g.log.Debug("network GC", "trigger", rec.Trigger, "changes", rec.Changes, "took", g.at.Sub(t0))
	return err
}

// networkFingerprint hashes what network GC judges by: each entry's name
// and load state, the networks each loaded project declares and each
// service's reservations (after network.Prepare).
func networkFingerprint(entries []model.Entry) uint64 {
	h := fnv.New64a()
	for _, e := range entries {
		fmt.Fprintf(h, "entry %s %t\n", e.Name, e.Err == nil && e.Project != nil)
		if e.Err != nil || e.Project == nil {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(e.Project.Networks)) {
			n := e.Project.Networks[k]
			fmt.Fprintf(h, "net %s %t\n", network.FullName(e.Project.Name, k, n), n.External)
		}
		for _, s := range e.Project.Services {
			for _, k := range slices.Sorted(maps.Keys(s.Networks)) {
				fmt.Fprintf(h, "member %s %s %s\n", s.ID(), k, s.Networks[k].IPv4)
			}
		}
		if e.Project.Pod != nil {
			fmt.Fprintf(h, "pod %s %t\n", e.Project.Pod.Name, e.Project.Pod.HostNetwork)
		}
	}
	return h.Sum64()
}

// removeProjectNetworks removes the networks of a project that is down, as
// docker compose down does: GC judges the project as if its entry were gone.
// Projects that fail to load keep their networks.
func (a *app) removeProjectNetworks(ctx context.Context, project string) error {
	entries, err := a.load(ctx, a.g.ConfigDir)
	if err != nil {
		a.log.Warn("networks kept: the config dir does not load", "project", project, "err", err)
		return nil
	}
	others := slices.DeleteFunc(entries, func(e model.Entry) bool { return e.Name == project })
	// Prepared as apply does, so GC sees the others' reservations under
	// their berth network names and keeps their running attachments.
	if err := network.Prepare(ctx, a.netPaths(), others, nil, true); err != nil {
		return err
	}
	return network.GC(ctx, a.netPaths(), a.settings.CNIPluginDir, others, nil, a.log)
}

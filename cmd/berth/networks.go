package main

import (
	"context"
	"errors"
	"slices"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/runtime/network"
)

// gcNetworks runs after apply: it re-renders the hosts files of running
// containers (peers added or re-addressed) and removes reservations,
// attachments and networks that no loaded project declares any more.
func (a *app) gcNetworks(ctx context.Context, projects []string) error {
	p := a.netPaths()
	return errors.Join(
		network.GC(ctx, p, a.settings.CNIPluginDir, a.entries, projects, a.log),
		network.RefreshHosts(p),
	)
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
	others := slices.DeleteFunc(entries, func(e compose.Entry) bool { return e.Name == project })
	return network.GC(ctx, a.netPaths(), a.settings.CNIPluginDir, others, nil, a.log)
}

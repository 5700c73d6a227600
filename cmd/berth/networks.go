package main

import (
	"context"
	"errors"

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

package network

import (
	"context"
	"errors"
	"log/slog"

	"github.com/berth-dev/berth/compose/model"
)

// Allocator is the network side of a reconcile pass (the reconciler's
// Networks interface): addresses before planning, GC and hosts files
// after applying.
type Allocator struct {
	Paths     Paths
	PluginDir string // CNI plugins; "" searches the usual places
	Log       *slog.Logger
}

// Allocate is Prepare: reserve false only looks addresses up.
func (a Allocator) Allocate(ctx context.Context, entries []model.Entry, only []string, reserve bool) error {
	return Prepare(ctx, a.Paths, entries, only, reserve)
}

// GC removes what no entry declares (see GC) and re-renders the hosts
// files of running containers (peers added or re-addressed).
func (a Allocator) GC(ctx context.Context, entries []model.Entry, only []string) error {
	return errors.Join(GC(ctx, a.Paths, a.PluginDir, entries, only, a.Log), RefreshHosts(a.Paths))
}

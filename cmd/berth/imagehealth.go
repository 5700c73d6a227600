package main

import (
	"context"
	"log/slog"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/runtime/image"
	"github.com/berth-dev/berth/runtime/paths"
)

// imageConfigs is the part of the image store settling image health checks
// needs.
type imageConfigs interface {
	Healthcheck(ctx context.Context, ref string) (*image.Healthcheck, error)
}

var _ imageConfigs = (*image.Store)(nil)

// settleImageHealth gives every loaded service that asks for its image's
// HEALTHCHECK that check (model.SettleEntriesImageHealth), reading image
// configs from the store when the image is pulled (what its container
// runs), else from the registry without the layers.
func settleImageHealth(ctx context.Context, store imageConfigs, log *slog.Logger, entries []model.Entry) {
	lookup := func(ref string) (*model.Health, error) {
		hc, err := store.Healthcheck(ctx, ref)
		if err != nil {
			return nil, err
		}
		return (*model.ImageHealthcheck)(hc).Health()
	}
	for _, i := range model.SettleEntriesImageHealth(entries, lookup) {
		log.Warn("project fails on its images' health checks", "project", entries[i].Name, "err", entries[i].Err)
	}
}

// imageStore opens the store under the state dir with the settings'
// registries, for commands that have no app.
func imageStore(g *globalOptions) (*image.Store, error) {
	st, err := loadSettings(g.ConfigDir)
	if err != nil {
		return nil, err
	}
	return image.NewStore(paths.New("", g.StateDir, "").Images(), image.Options{Insecure: st.InsecureRegistries,
		Keychain: registryKeychain(g), Log: g.logger()})
}

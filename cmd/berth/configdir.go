package main

import (
	"context"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/compose/kube"
	"github.com/berth-dev/berth/units"
)

// loadConfigDir loads every project of the config dir: Compose files and
// Kubernetes YAML alike. Every command reading the config dir goes through
// it, so all of them understand both, and all honour berth.yaml's profiles.
func loadConfigDir(ctx context.Context, dir string) ([]model.Entry, error) {
	st, err := loadSettings(dir)
	if err != nil {
		return nil, err
	}
	return compose.LoadDir(ctx, dir, append(composeOptions(st), compose.WithKubeLoader(kube.NewLoader().Load), compose.WithUnitCheck(units.CheckProperty))...)
}

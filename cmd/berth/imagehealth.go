package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

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
// HEALTHCHECK that check (model.Project.SettleImageHealth), reading each
// distinct image's config once: from the store when the image is pulled
// (what its container runs), else from the registry without the layers. A
// project whose image configs cannot be read, or whose service_healthy
// target ends up with no check, fails like a file that does not load: its
// entry gets the error and its running units stay as they are.
func settleImageHealth(ctx context.Context, store imageConfigs, log *slog.Logger, entries []model.Entry) {
	type result struct {
		h   *model.Health
		err error
	}
	cache := map[string]result{}
	lookup := func(ref string) (*model.Health, error) {
		if r, ok := cache[ref]; ok {
			return r.h, r.err
		}
		var r result
		hc, err := store.Healthcheck(ctx, ref)
		if err != nil {
			r.err = err
		} else {
			r.h, r.err = imageHealth(hc)
		}
		cache[ref] = r
		return r.h, r.err
	}
	for i := range entries {
		e := &entries[i]
		if e.Project == nil || e.Err != nil {
			continue
		}
		if err := e.Project.SettleImageHealth(lookup); err != nil {
			log.Warn("project fails on its images' health checks", "project", e.Name, "err", err)
			e.Err = fmt.Errorf("%s: %w", e.Path, err)
			e.Project = nil
		}
	}
}

// imageHealth converts an image config's Healthcheck (docker's HEALTHCHECK
// instruction) to the model: nil for none, an empty test or NONE.
func imageHealth(hc *image.Healthcheck) (*model.Health, error) {
	if hc == nil || len(hc.Test) == 0 {
		return nil, nil
	}
	h := &model.Health{
		Interval:      positive(hc.Interval),
		Timeout:       positive(hc.Timeout),
		StartPeriod:   positive(hc.StartPeriod),
		StartInterval: positive(hc.StartInterval),
		Retries:       max(hc.Retries, 0),
	}
	switch hc.Test[0] {
	case "NONE":
		return nil, nil
	case "CMD":
		if len(hc.Test) < 2 {
			return nil, fmt.Errorf("HEALTHCHECK CMD has no command")
		}
		h.Cmd = append([]string{}, hc.Test[1:]...)
	case "CMD-SHELL":
		if len(hc.Test) < 2 {
			return nil, fmt.Errorf("HEALTHCHECK CMD-SHELL has no command")
		}
		h.Shell, h.Cmd = true, []string{strings.Join(hc.Test[1:], " ")}
	default:
		return nil, fmt.Errorf("HEALTHCHECK test must start with CMD, CMD-SHELL or NONE, got %q", hc.Test[0])
	}
	return h, nil
}

func positive(d time.Duration) time.Duration { return max(d, 0) }

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

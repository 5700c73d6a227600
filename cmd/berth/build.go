package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime/build"
	"github.com/berth-dev/berth/runtime/image"
	"github.com/berth-dev/berth/runtime/paths"
	"github.com/berth-dev/berth/units"
	"github.com/spf13/cobra"
)

// builder builds `build:` services' images in their transient
// .build.service units, for the reconciler (before a create or recreate
// stops anything) and for `berth build`.
type builder struct {
	g     *globalOptions
	store *image.Store
	mgr   reconciler.Manager
	units units.Config
	log   *slog.Logger
	// force rebuilds even when the store holds the image of the
	// context's hash (berth build, apply --build).
	force bool
}

var _ reconciler.Builder = (*builder)(nil)

func (a *app) builder(force bool) *builder {
	return &builder{g: a.g, store: a.store, mgr: a.rec.Manager, units: a.rec.Units, log: a.log, force: force}
}

// Build makes svc.Image the image built from svc's current build: when the
// store holds the image of this context hash (BuildRef) it is tagged and
// buildah does not run; otherwise the service's .build.service unit builds
// and imports it, and the start job's result is the build's. svc then gets
// the built image's HEALTHCHECK where Compose asks for it.
func (b *builder) Build(ctx context.Context, svc *model.Service) error {
	if svc.Build == nil {
		return nil
	}
	built, err := b.store.Get(ctx, svc.BuildRef())
	switch {
	case err == nil && !b.force && !svc.Build.Always:
		if err := b.store.Tag(ctx, svc.Image, built.Digest); err != nil {
			return fmt.Errorf("tagging the built image: %w", err)
		}
		b.log.Debug("image up to date; not building", "service", svc.Project+"/"+svc.Name, "digest", built.Digest)
	case err != nil && !errors.Is(err, image.ErrNotFound):
		return err
	default:
		if err := b.run(ctx, svc); err != nil {
			return err
		}
	}
	return b.settleHealth(ctx, svc)
}

// run starts the build unit and waits for it.
func (b *builder) run(ctx context.Context, svc *model.Service) error {
	if err := build.Check(); err != nil {
		return fmt.Errorf("building image %s: %w", svc.Image, err)
	}
	jobPath, err := writeBuildJob(b.g, svc, b.force)
	if err != nil {
		return err
	}
	b.log.Info("building image", "service", svc.Project+"/"+svc.Name, "image", svc.Image, "unit", units.BuildName(svc.Project, svc.Name))
	if err := b.mgr.Start(ctx, units.BuildUnit(b.units, svc, jobPath)); err != nil {
		return fmt.Errorf("building image %s: %w", svc.Image, err)
	}
	return nil
}

// writeBuildJob writes the job file svc's .build.service unit reads, and
// returns its path.
func writeBuildJob(g *globalOptions, svc *model.Service, force bool) (string, error) {
	l := paths.New(g.ConfigDir, g.StateDir, g.RunDir)
	job := build.Job{
		Service: svc.Project + "/" + svc.Name,
		Build:   *svc.Build,
		Refs:    []string{svc.Image, svc.BuildRef()},
		Root:    l.BuildStorage(),
		RunRoot: l.BuildRun(),
		Work:    l.BuildWork(),
		Force:   force,
	}
	path, err := l.BuildJob(svc.ID())
	if err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(job, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("writing build job: %w", err)
	}
	if err := paths.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("writing build job: %w", err)
	}
	return path, nil
}

// settleHealth gives svc the built image's HEALTHCHECK when Compose asks
// for the image's check, as loading does for a pulled image; the next load
// reads the same check from the store, so the spec hash stays.
func (b *builder) settleHealth(ctx context.Context, svc *model.Service) error {
	if svc.ImageHealth == nil {
		return nil
	}
	hc, err := b.store.Healthcheck(ctx, svc.Image)
	if err != nil {
		return fmt.Errorf("reading the built image's HEALTHCHECK: %w", err)
	}
	h, err := (*model.ImageHealthcheck)(hc).Health()
	if err != nil {
		return fmt.Errorf("image %s: %w", svc.Image, err)
	}
	svc.UseImageHealth(h)
	return nil
}

// addBuildFlag adds apply's --build.
func addBuildFlag(cmd *cobra.Command, g *globalOptions) {
	cmd.Flags().BoolVar(&g.forceBuild, "build", false, "build the images of build: services again, even when their context is unchanged, and recreate those whose image changed")
}

// applyBuildFlag carries out apply --build on plan p before it is printed
// and applied: a failed build is one more error of the plan, and its
// service keeps running.
func (a *app) applyBuildFlag(ctx context.Context, p *reconciler.Plan, out io.Writer) {
	if !a.g.forceBuild {
		return
	}
	if err := a.forceRebuild(ctx, p, out); err != nil {
		p.Errors = append(p.Errors, err)
	}
}

// actionLabel is how plan names c's action: "rebuild+recreate" for a
// recreate whose build changed, so the user sees that buildah will run.
func actionLabel(c reconciler.Change) string {
	if c.Action == reconciler.Recreate && c.Desired != nil && c.Desired.Build != nil && slices.Contains(c.Fields, "build") {
		return "rebuild+" + string(c.Action)
	}
	return string(c.Action)
}

// builtImages is the image store as settling image health checks sees it:
// the image of a build: service that is not built yet has a HEALTHCHECK
// nobody can know before the build (the builder settles it then), so it
// is not looked for in a registry.
type builtImages struct {
	*image.Store
	built map[string]bool
}

func newBuiltImages(store *image.Store, entries []model.Entry) builtImages {
	b := builtImages{Store: store, built: map[string]bool{}}
	for _, e := range entries {
		if e.Project == nil {
			continue
		}
		for _, s := range e.Project.Services {
			if s.Build != nil {
				b.built[s.Image] = true
			}
		}
	}
	return b
}

func (b builtImages) Healthcheck(ctx context.Context, ref string) (*image.Healthcheck, error) {
	if b.built[ref] {
		if _, err := b.Store.Get(ctx, ref); errors.Is(err, image.ErrNotFound) {
			return nil, fmt.Errorf("image %s is not built yet; its HEALTHCHECK applies once it is", ref)
		}
	}
	return b.Store.Healthcheck(ctx, ref)
}

// generateBuildUnit is generate systemd's part for a build: service: its
// job file, and the .build.service unit its service Requires= and comes
// After=, so that starting the service (at boot, too) builds its image
// when the store lacks it.
func generateBuildUnit(g *globalOptions, cfg units.Config, svc *model.Service, set *units.Set) ([]*units.Unit, error) {
	if svc.Build == nil {
		return nil, nil
	}
	jobPath, err := writeBuildJob(g, svc, false)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", svc.Project, svc.Name, err)
	}
	units.RequireBuild(set.Service, svc)
	return []*units.Unit{units.BuildUnit(cfg, svc, jobPath)}, nil
}

// builtImageWarnings are generate kube's warnings for build: services: the
// YAML names their local image, which a cluster can only pull once it is
// pushed to a registry it reaches.
func builtImageWarnings(p *model.Project) []string {
	var out []string
	for _, s := range p.Services {
		if s.Build != nil {
			out = append(out, fmt.Sprintf("service %s runs image %s, built locally from %s: push it to a registry the cluster can pull from (and name it in image:)", s.Name, s.Image, s.Build.Context))
		}
	}
	return out
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime/build"
	"github.com/spf13/cobra"
)

func newBuildCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "build [PROJECT[/SERVICE]...]",
		Short: "Build the images of build: services without applying",
		Long: `build builds the image of every service with a compose build: section (or
only those of the named projects or services) with buildah, each in its
transient unit berth-PROJECT-SERVICE.build.service, whose journal holds
buildah's output, and imports it into berth's image store. It always
builds, and changes no running unit: a service runs the new image once it
is recreated ('berth apply' recreates those whose build context changed,
without building again; 'berth apply --build' builds and recreates all).
One failing build is reported and the others go on.`,
		Example: `  berth build
  berth build webapp/app`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd.Context(), g, args, cmd.OutOrStdout())
		},
	}
}

func runBuild(ctx context.Context, g *globalOptions, args []string, out io.Writer) error {
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	entries, err := a.load(ctx, g.ConfigDir)
	if err != nil {
		return err
	}
	svcs, err := buildTargets(entries, args)
	if err != nil {
		return err
	}
	_, err = a.buildAll(ctx, svcs, out)
	return err
}

// buildAll builds svcs, forced, one after the other (buildah keeps one
// layer cache), and reports which built image differs from the one the
// service's image name had.
func (a *app) buildAll(ctx context.Context, svcs []*model.Service, out io.Writer) (changed map[string]bool, err error) {
	b := a.builder(true)
	changed = map[string]bool{}
	var errs []error
	for _, svc := range svcs {
		key := svc.Project + "/" + svc.Name
		before := ""
		if img, err := a.store.Get(ctx, svc.Image); err == nil {
			before = img.Digest
		}
		if err := b.Build(ctx, svc); err != nil {
			fmt.Fprintf(out, "%s: build failed: %v\n", key, err)
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			continue
		}
		img, err := a.store.Get(ctx, svc.Image)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			continue
		}
		changed[key] = img.Digest != before
		fmt.Fprintf(out, "%s: built %s (%s)\n", key, svc.Image, img.Digest)
	}
	return changed, errors.Join(errs...)
}

// buildTargets picks the build: services args name: PROJECT (all of its
// build services) or PROJECT/SERVICE; none means every one. A named
// project that failed to load is an error.
func buildTargets(entries []model.Entry, args []string) ([]*model.Service, error) {
	var out []*model.Service
	matched := make([]bool, len(args))
	for _, e := range entries {
		for j, arg := range args {
			if p, _, _ := strings.Cut(arg, "/"); p == e.Name && e.Project == nil {
				matched[j] = true
				return nil, e.Err
			}
		}
		if e.Project == nil {
			continue
		}
		for i := range e.Project.Services {
			svc := &e.Project.Services[i]
			selected := len(args) == 0 && svc.Build != nil
			for j, arg := range args {
				switch arg {
				case svc.Project:
					matched[j] = true
					selected = selected || svc.Build != nil
				case svc.Project + "/" + svc.Name:
					matched[j] = true
					if svc.Build == nil {
						return nil, fmt.Errorf("service %s has no build: section", arg)
					}
					selected = true
				}
			}
			if selected {
				out = append(out, svc)
			}
		}
	}
	for j, ok := range matched {
		if !ok {
			return nil, fmt.Errorf("no project or service %q in the config dir", args[j])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("nothing to build: no service has a build: section")
	}
	return out, nil
}

// newBuildRunCommand is what a .build.service unit runs: one build job.
func newBuildRunCommand(g *globalOptions) *cobra.Command {
	var jobPath string
	cmd := &cobra.Command{
		Use:    "build-run --job FILE",
		Short:  "Run one image build (what a .build.service unit runs)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(jobPath)
			if err != nil {
				return err
			}
			var job build.Job
			if err := json.Unmarshal(data, &job); err != nil {
				return fmt.Errorf("reading build job %s: %w", jobPath, err)
			}
			store, err := imageStore(g)
			if err != nil {
				return err
			}
			if !job.Force && !job.Build.Always && len(job.Refs) == 2 {
				if built, err := store.Get(cmd.Context(), job.Refs[1]); err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "image %s is up to date (%s); not building\n", job.Refs[0], built.Digest)
					return store.Tag(cmd.Context(), job.Refs[0], built.Digest)
				}
			}
			img, err := build.Run(cmd.Context(), job, store, cmd.OutOrStdout())
			if err != nil {
				return fmt.Errorf("%s: %w", job.Service, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "built %s as %s\n", img.Digest, strings.Join(job.Refs, ", "))
			return nil
		},
	}
	cmd.Flags().StringVar(&jobPath, "job", "", "the build job file")
	_ = cmd.MarkFlagRequired("job")
	return cmd
}

// forceRebuild is apply --build: every build: service the plan starts or
// keeps is built again, once (the reconciler's builder then finds the new
// image of the context's hash and does not build again), and a kept one
// whose image changed is recreated even though its spec is unchanged.
func (a *app) forceRebuild(ctx context.Context, p *reconciler.Plan, out io.Writer) error {
	var svcs []*model.Service
	for _, c := range p.Changes {
		if c.Action != reconciler.Remove && c.Desired != nil && c.Desired.Build != nil {
			svcs = append(svcs, c.Desired)
		}
	}
	if len(svcs) == 0 {
		return nil
	}
	changed, err := a.buildAll(ctx, svcs, out)
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action == reconciler.Keep && changed[c.Project+"/"+c.Service] {
			c.Action = reconciler.Recreate
		}
	}
	return err
}

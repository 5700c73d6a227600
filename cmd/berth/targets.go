package main

import (
	"context"

	"github.com/berth-dev/berth/reconciler"
	"github.com/spf13/cobra"
)

// resolveTargets maps SERVICE, PROJECT/SERVICE or PROJECT arguments to
// services (reconciler.ResolveTargets), from the config dir as loaded,
// without allocating anything, and the units systemd has.
func (a *app) resolveTargets(ctx context.Context, args []string) ([]reconciler.Target, error) {
	entries, err := a.loadDesired(ctx, nil)
	if err != nil {
		return nil, err
	}
	obs, err := a.rec.Manager.Observe(ctx)
	if err != nil {
		return nil, err
	}
	return reconciler.ResolveTargets(entries, obs, args)
}

// completeServices completes PROJECT, SERVICE and PROJECT/SERVICE from the
// config dir, without touching systemd.
func completeServices(g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		entries, err := loadConfigDir(cmd.Context(), g.ConfigDir)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name+"\tproject")
			if e.Project == nil {
				continue
			}
			for _, s := range e.Project.Services {
				out = append(out, s.Name+"\tservice of "+e.Name, e.Name+"/"+s.Name)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeProjects completes project names from the config dir.
func completeProjects(g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		entries, err := loadConfigDir(cmd.Context(), g.ConfigDir)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

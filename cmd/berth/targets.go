package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/units"
	"github.com/spf13/cobra"
)

// target is one service a command acts on.
type target struct {
	Project, Service, Unit string
	// Desired is nil when no loaded file declares the service any more.
	Desired *model.Service
}

// resolveTargets maps SERVICE, PROJECT/SERVICE or PROJECT arguments to
// services, from the config dir and the units systemd has. A bare name
// that is both a project and a service, or a service of several projects,
// is refused with the choices spelled out.
func (a *app) resolveTargets(ctx context.Context, args []string) ([]target, []model.Entry, []reconciler.Observed, error) {
	entries, err := a.loadDesired(ctx, a.g.ConfigDir, nil, true)
	if err != nil {
		return nil, nil, nil, err
	}
	obs, err := a.rec.Manager.Observe(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	all := map[string]*target{}
	for _, e := range entries {
		if e.Project == nil {
			continue
		}
		for i := range e.Project.Services {
			s := &e.Project.Services[i]
			u := units.Name(s.Project, s.Name)
			all[u] = &target{Project: s.Project, Service: s.Name, Unit: u, Desired: s}
		}
	}
	for _, o := range obs {
		if o.Project != "" && all[o.Unit] == nil {
			all[o.Unit] = &target{Project: o.Project, Service: o.Service, Unit: o.Unit}
		}
	}
	var out []target
	seen := map[string]bool{}
	for _, arg := range args {
		var matched []*target
		if p, s, ok := strings.Cut(arg, "/"); ok {
			if t := all[units.Name(p, s)]; t != nil {
				matched = append(matched, t)
			}
		} else {
			var byProject, byService []*target
			for _, t := range all {
				if t.Project == arg {
					byProject = append(byProject, t)
				}
				if t.Service == arg {
					byService = append(byService, t)
				}
			}
			switch {
			case len(byProject) > 0 && len(byService) > 0:
				return nil, nil, nil, fmt.Errorf("%q is both a project and a service; say %s/SERVICE or PROJECT/%s", arg, arg, arg)
			case len(byService) > 1:
				var names []string
				for _, t := range byService {
					names = append(names, t.Project+"/"+t.Service)
				}
				sort.Strings(names)
				return nil, nil, nil, fmt.Errorf("service %q is in several projects; say one of: %s", arg, strings.Join(names, ", "))
			}
			matched = append(byProject, byService...)
		}
		if len(matched) == 0 {
			return nil, nil, nil, fmt.Errorf("no service or project %q (berth ps lists them)", arg)
		}
		sort.Slice(matched, func(i, j int) bool { return matched[i].Unit < matched[j].Unit })
		for _, t := range matched {
			if !seen[t.Unit] {
				seen[t.Unit] = true
				out = append(out, *t)
			}
		}
	}
	return out, entries, obs, nil
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

package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/systemd"
	"github.com/berth-dev/berth/units"
)

// service names one berth service as the day-two commands (exec, cp,
// top, stats) take it.
type service struct {
	Project, Name string
}

func (s service) String() string { return s.Project + "/" + s.Name }

// ID is the service's container id (model.Service.ID).
func (s service) ID() string { return s.Project + "-" + s.Name }

func (s service) Unit() string { return units.Name(s.Project, s.Name) }

// berthServices are the container services among berth's units (pod
// sandbox units left out).
func berthServices(ctx context.Context, sd *systemd.Client) ([]systemd.Unit, error) {
	us, err := sd.List(ctx, systemd.ListOptions{Patterns: []string{units.Prefix + "*.service"},
		Props: []string{systemd.PropEnvironment, systemd.PropMainPID, systemd.PropControlGroup, systemd.PropActiveEnterTimestamp}})
	if err != nil {
		return nil, err
	}
	var out []systemd.Unit
	for _, u := range us {
		p, s := u.Environment[units.EnvProject], u.Environment[units.EnvService]
		if p != "" && s != "" && !units.IsPodService(s) {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// matchServices maps one argument to services: PROJECT/SERVICE as given,
// PROJECT (when projects is set) to all its services, and a bare SERVICE
// to the one service of that name. A bare name that matches nothing or
// several services is refused with the choices spelled out.
func matchServices(all []systemd.Unit, arg string, projects bool) ([]service, error) {
	if p, s, ok := strings.Cut(arg, "/"); ok {
		if p == "" || s == "" {
			return nil, fmt.Errorf("%q: want PROJECT/SERVICE", arg)
		}
		return []service{{p, s}}, nil
	}
	var byProject, byName []service
	for _, u := range all {
		s := service{u.Environment[units.EnvProject], u.Environment[units.EnvService]}
		if projects && s.Project == arg {
			byProject = append(byProject, s)
		}
		if s.Name == arg {
			byName = append(byName, s)
		}
	}
	switch {
	case len(byProject) > 0 && len(byName) > 0:
		return nil, fmt.Errorf("%q is both a project and a service (%s); write PROJECT/SERVICE", arg, names(byName))
	case len(byProject) > 0:
		return byProject, nil
	case len(byName) == 1:
		return byName, nil
	case len(byName) > 1:
		return nil, fmt.Errorf("service %q is in several projects; write one of %s", arg, names(byName))
	}
	return nil, fmt.Errorf("no berth service %q (berth ps lists them)", arg)
}

func names(ss []service) string {
	var n []string
	for _, s := range ss {
		n = append(n, s.String())
	}
	return strings.Join(n, ", ")
}

// resolveOne resolves an argument that must name one service; only a
// bare SERVICE needs systemd.
func resolveOne(ctx context.Context, arg string) (service, error) {
	if strings.Contains(arg, "/") {
		ss, err := matchServices(nil, arg, false)
		if err != nil {
			return service{}, err
		}
		return ss[0], nil
	}
	sd, err := systemd.Connect(ctx)
	if err != nil {
		return service{}, err
	}
	defer sd.Close()
	all, err := berthServices(ctx, sd)
	if err != nil {
		return service{}, err
	}
	ss, err := matchServices(all, arg, false)
	if err != nil {
		return service{}, err
	}
	return ss[0], nil
}

// errNotRunning says a service has no running container, with its unit's
// state and the command that starts it.
var errNotRunning = errors.New("not running")

// notRunning builds the error for s, asking systemd for its unit's state.
func notRunning(ctx context.Context, s service) error {
	// systemd reports a transient unit it has unloaded after a stop as
	// inactive, as systemctl status shows it.
	state := "unknown"
	if sd, err := systemd.Connect(ctx); err == nil {
		if u, err := sd.Get(ctx, s.Unit()); err == nil && u.ActiveState != "" {
			state = u.ActiveState
			if u.SubState != "" && u.SubState != u.ActiveState && u.SubState != "dead" {
				state += "/" + u.SubState
			}
		}
		sd.Close()
	}
	return fmt.Errorf("%s is %w (%s); start it with berth start %s", s, errNotRunning, state, s)
}

// selectUnits is the running units the arguments name (PROJECT,
// PROJECT/SERVICE or SERVICE; none is every service), for top and stats.
func selectUnits(ctx context.Context, sd *systemd.Client, args []string) ([]systemd.Unit, error) {
	all, err := berthServices(ctx, sd)
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return running(all), nil
	}
	byName := map[string]systemd.Unit{}
	for _, u := range all {
		byName[u.Name] = u
	}
	var out []systemd.Unit
	seen := map[string]bool{}
	for _, arg := range args {
		ss, err := matchServices(all, arg, true)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			u, ok := byName[s.Unit()]
			if !ok || u.ActiveState != "active" {
				return nil, notRunning(ctx, s)
			}
			if !seen[u.Name] {
				seen[u.Name] = true
				out = append(out, u)
			}
		}
	}
	return out, nil
}

func running(us []systemd.Unit) []systemd.Unit {
	var out []systemd.Unit
	for _, u := range us {
		if u.ActiveState == "active" && u.ControlGroup != "" {
			out = append(out, u)
		}
	}
	return out
}

func serviceOf(u systemd.Unit) service {
	return service{u.Environment[units.EnvProject], u.Environment[units.EnvService]}
}

// completeFirst completes only the first argument with complete: exec's
// COMMAND is the container's, not berth's.
func completeFirst(complete cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return complete(cmd, args, toComplete)
	}
}

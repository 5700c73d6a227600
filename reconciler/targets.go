package reconciler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/units"
)

// Target is one service a command (start, stop, restart, logs) acts on.
type Target struct {
	Project, Service, Unit string
	// Desired is nil when no loaded file declares the service any more.
	Desired *model.Service
	// Running says whether its unit is active.
	Running bool
}

// ResolveTargets maps SERVICE, PROJECT/SERVICE or PROJECT arguments to
// services, from the loaded entries and the units systemd has. A bare
// name that is both a project and a service, or a service of several
// projects, is refused with the choices spelled out.
func ResolveTargets(entries []model.Entry, observed []Observed, args []string) ([]Target, error) {
	all := map[string]*Target{}
	for _, e := range entries {
		if e.Project == nil {
			continue
		}
		for i := range e.Project.Services {
			s := &e.Project.Services[i]
			u := units.MainName(s)
			all[u] = &Target{Project: s.Project, Service: s.Name, Unit: u, Desired: s}
		}
	}
	for _, o := range observed {
		if o.Project != "" && all[o.Unit] == nil {
			all[o.Unit] = &Target{Project: o.Project, Service: o.Service, Unit: o.Unit}
		}
		if t := all[o.Unit]; t != nil && o.ActiveState == "active" {
			t.Running = true
		}
	}
	var out []Target
	seen := map[string]bool{}
	for _, arg := range args {
		matched, err := match(all, arg)
		if err != nil {
			return nil, err
		}
		for _, t := range matched {
			if !seen[t.Unit] {
				seen[t.Unit] = true
				out = append(out, *t)
			}
		}
	}
	return out, nil
}

// match is the targets one argument names, sorted by unit.
func match(all map[string]*Target, arg string) ([]*Target, error) {
	var matched []*Target
	if p, s, ok := strings.Cut(arg, "/"); ok {
		for _, t := range all {
			if t.Project == p && t.Service == s {
				matched = append(matched, t)
			}
		}
	} else {
		var byProject, byService []*Target
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
			return nil, fmt.Errorf("%q is both a project and a service; say %s/SERVICE or PROJECT/%s", arg, arg, arg)
		case len(byService) > 1:
			var names []string
			for _, t := range byService {
				names = append(names, t.Project+"/"+t.Service)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("service %q is in several projects; say one of: %s", arg, strings.Join(names, ", "))
		}
		matched = append(byProject, byService...)
	}
	if len(matched) == 0 {
		return nil, fmt.Errorf("no service or project %q (berth ps lists them)", arg)
	}
	sort.Slice(matched, func(i, j int) bool { return matched[i].Unit < matched[j].Unit })
	return matched, nil
}

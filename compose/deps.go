package compose

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/compose/model"
)

// Docker's healthcheck defaults.
const (
	DefaultHealthInterval      = model.DefaultHealthInterval
	DefaultHealthTimeout       = model.DefaultHealthTimeout
	DefaultHealthRetries       = model.DefaultHealthRetries
	DefaultHealthStartInterval = model.DefaultHealthStartInterval
)

// health converts healthcheck. disable: true and test: [NONE] leave the
// service without a check. No healthcheck, or one without a test, asks for
// the image's HEALTHCHECK (ImageHealth, with the fields given here
// overriding the image's), as docker does; the image's config is read
// after loading (Service.UseImageHealth).
func (l *loader) health(c svcAt, sc types.ServiceConfig, s *model.Service) error {
	hc := sc.HealthCheck
	if hc == nil {
		s.ImageHealth = &model.Health{}
		return nil
	}
	if hc.Disable {
		return nil
	}
	field := []string{"healthcheck", "test"}
	h := &model.Health{}
	if len(hc.Test) > 0 {
		h = &model.Health{
			Interval:      DefaultHealthInterval,
			Timeout:       DefaultHealthTimeout,
			Retries:       DefaultHealthRetries,
			StartInterval: DefaultHealthStartInterval,
		}
		switch hc.Test[0] {
		case "NONE":
			return nil
		case "CMD":
			if len(hc.Test) < 2 {
				return c.errorf(field, "CMD needs a command")
			}
			h.Cmd = append([]string{}, hc.Test[1:]...)
		case "CMD-SHELL":
			if len(hc.Test) < 2 {
				return c.errorf(field, "CMD-SHELL needs a command")
			}
			h.Shell, h.Cmd = true, []string{strings.Join(hc.Test[1:], " ")}
		default:
			return c.errorf(field, "must start with CMD, CMD-SHELL or NONE, got %q", hc.Test[0])
		}
	}
	dur := func(d *types.Duration, into *time.Duration, name string) error {
		if d == nil {
			return nil
		}
		if *d < 0 {
			return c.errorf([]string{"healthcheck", name}, "must not be negative")
		}
		*into = time.Duration(*d)
		return nil
	}
	if err := joinErrs([]error{
		dur(hc.Interval, &h.Interval, "interval"),
		dur(hc.Timeout, &h.Timeout, "timeout"),
		dur(hc.StartPeriod, &h.StartPeriod, "start_period"),
		dur(hc.StartInterval, &h.StartInterval, "start_interval"),
	}); err != nil {
		return err
	}
	if hc.Retries != nil {
		h.Retries = int(*hc.Retries)
	}
	if len(hc.Test) == 0 {
		s.ImageHealth = h // zero fields: the image's value, else docker's default
		return nil
	}
	if h.Interval == 0 {
		h.Interval = DefaultHealthInterval // docker: 0 means the default
	}
	if h.Timeout == 0 {
		h.Timeout = DefaultHealthTimeout
	}
	s.Health = h
	return nil
}

// dependsOn copies depends_on; compose-go has added the implicit ones of
// links and network_mode service:X. A dependency with required: false on a
// service that is not in the project (disabled by profiles) is left out.
func (l *loader) dependsOn(c svcAt, sc types.ServiceConfig, s *model.Service) error {
	var errs []error
	for _, name := range sortedKeys(sc.DependsOn) {
		d := sc.DependsOn[name]
		if _, ok := l.cp.Services[name]; !ok {
			_, disabled := l.cp.DisabledServices[name]
			switch {
			case !d.Required:
			case disabled:
				errs = append(errs, c.errorf([]string{"depends_on", name}, "service %q is disabled by profiles (enable its profile, or set required: false)", name))
			default:
				errs = append(errs, c.errorf([]string{"depends_on", name}, "service %q is not a service of this project", name))
			}
			continue
		}
		cond := d.Condition
		if cond == "" {
			cond = model.ConditionStarted
		}
		if s.DependsOn == nil {
			s.DependsOn = map[string]model.Dependency{}
		}
		s.DependsOn[name] = model.Dependency{Condition: cond, Required: d.Required, Restart: d.Restart}
	}
	return joinErrs(errs)
}

// markOneshots makes every target of service_completed_successfully a
// oneshot service and checks that service_healthy targets have a health
// check.
func (l *loader) markOneshots(p *model.Project) error {
	idx := map[string]int{}
	for i, s := range p.Services {
		idx[s.Name] = i
	}
	var errs []error
	for _, s := range p.Services {
		c := svcAt{ps: l.pos, name: s.Name, l: l}
		for _, dep := range sortedKeys(s.DependsOn) {
			d := s.DependsOn[dep]
			t := &p.Services[idx[dep]]
			switch d.Condition {
			case model.ConditionCompleted:
				t.Oneshot = true
			case model.ConditionHealthy:
				// With ImageHealth the image's HEALTHCHECK decides, once
				// its config is read (CheckImageHealth).
				if t.Health == nil && t.ImageHealth == nil {
					errs = append(errs, c.errorf([]string{"depends_on", dep}, "service_healthy needs a healthcheck on service %q, and its healthcheck is disabled", dep))
				}
			case model.ConditionStarted:
			default:
				errs = append(errs, c.errorf([]string{"depends_on", dep, "condition"}, "unknown condition %q (valid: %s, %s, %s)", d.Condition, model.ConditionStarted, model.ConditionHealthy, model.ConditionCompleted))
			}
		}
	}
	return joinErrs(errs)
}

// dependencyOrder sorts services so that each comes after its dependencies;
// among services that are ready at the same time, by name. A cycle is an
// error naming it.
func (l *loader) dependencyOrder(svcs []model.Service) ([]model.Service, error) {
	byName := map[string]model.Service{}
	for _, s := range svcs {
		byName[s.Name] = s
	}
	var out []model.Service
	done := map[string]bool{}
	for len(out) < len(svcs) {
		var ready []string
		for name, s := range byName {
			if done[name] {
				continue
			}
			ok := true
			for dep := range s.DependsOn {
				if !done[dep] {
					ok = false
					break
				}
			}
			if ok {
				ready = append(ready, name)
			}
		}
		if len(ready) == 0 {
			return nil, l.cycleError(byName, done)
		}
		slices.Sort(ready)
		for _, n := range ready {
			done[n] = true
			out = append(out, byName[n])
		}
	}
	return out, nil
}

// cycleError finds one cycle among the services not yet ordered.
func (l *loader) cycleError(byName map[string]model.Service, done map[string]bool) error {
	var start string
	for _, n := range sortedKeys(byName) {
		if !done[n] {
			start = n
			break
		}
	}
	// Walk first-unfinished dependencies until a service repeats.
	seen := map[string]int{}
	var path []string
	for cur := start; ; {
		if i, ok := seen[cur]; ok {
			cycle := append(path[i:], cur)
			c := svcAt{ps: l.pos, name: cycle[0], l: l}
			return fmt.Errorf("%s: dependency cycle: %s", c.at("depends_on", cycle[1]), strings.Join(cycle, " -> "))
		}
		seen[cur] = len(path)
		path = append(path, cur)
		for _, dep := range sortedKeys(byName[cur].DependsOn) {
			if !done[dep] {
				cur = dep
				break
			}
		}
	}
}

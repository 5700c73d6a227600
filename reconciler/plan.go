// Package reconciler diffs the desired model against the units systemd has
// and makes them equal: create, recreate, remove, keep.
package reconciler

import (
	"fmt"
	"sort"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/units"
)

// Observed is a berth unit as systemd reports it.
type Observed struct {
	Unit        string
	Project     string
	Service     string
	Hash        string
	ActiveState string
	// UnitFile is set for units `generate systemd` wrote to disk: not
	// berth's to remove.
	UnitFile bool
	// Limits are the unit's resource properties as systemd has them now;
	// nil when unknown (no drift check then).
	Limits *Limits
}

// Action is what apply does to one service.
type Action string

// The actions of a plan, in the terraform style `berth plan` prints.
const (
	Create   Action = "create"
	Recreate Action = "recreate"
	Remove   Action = "remove"
	Keep     Action = "unchanged"
)

// Symbol is the one-character marker plan output uses.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Recreate:
		return "~"
	case Remove:
		return "-"
	}
	return "="
}

// Change is one service's entry in a plan.
type Change struct {
	Action  Action
	Project string
	Service string
	Unit    string
	// Reason says why a recreate is needed.
	Reason string
	// Repair is set when the change puts back a unit that drifted from
	// what berth made (stopped, failed, changed by hand) rather than
	// following a config change: the agent logs it and backs off.
	Repair string
	// Fields names what differs from the frozen spec of the running unit
	// (image, command, env KEY, mount content …), when known.
	Fields []string
	// Desired is nil for Remove and for a pod sandbox unit.
	Desired *model.Service
	// Pod is the project whose pod sandbox unit (Sandbox) a Create or
	// Recreate starts (Service is the pod's, units.IsPodService); nil for
	// container units.
	Pod     *model.Project
	Sandbox *model.Pod
	// Current is nil for Create.
	Current *Observed
}

// Plan is the full diff. Errors are per config entry: the projects they
// belong to keep their running units untouched.
type Plan struct {
	Changes  []Change
	Errors   []error
	Warnings []string
}

// HasChanges reports whether applying the plan would do anything.
func (p *Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != Keep {
			return true
		}
	}
	return false
}

// MakePlan diffs the loaded entries against the observed units. When only
// is non-empty, projects not named in it are left out entirely.
func MakePlan(entries []model.Entry, observed []Observed, only []string) *Plan {
	return makePlan(entries, observed, only, nil)
}

// makePlan is MakePlan taking derived values from memo.
func makePlan(entries []model.Entry, observed []Observed, only []string, memo *Memo) *Plan {
	p := &Plan{}
	selected := func(project string) bool {
		if len(only) == 0 {
			return true
		}
		for _, o := range only {
			if o == project {
				return true
			}
		}
		return false
	}
	byUnit := map[string]*Observed{}
	for i := range observed {
		byUnit[observed[i].Unit] = &observed[i]
	}
	claimed := map[string]bool{} // projects whose units a config entry owns
	for _, e := range entries {
		if !selected(e.Name) {
			continue
		}
		claimed[e.Name] = true
		if e.Err != nil {
			p.Errors = append(p.Errors, e.Err)
			keepAll(p, e.Name, observed)
			continue
		}
		p.Warnings = append(p.Warnings, e.Project.Warnings...)
		podRecreated := map[string]bool{} // by pod name
		for _, pod := range e.Project.Pods {
			name := units.PodName(pod.Key(e.Project.Name))
			c := diffPod(e.Project, pod, name, byUnit[name])
			delete(byUnit, name)
			p.Changes = append(p.Changes, c)
			podRecreated[pod.Name] = c.Action == Recreate
		}
		recreated := map[string]bool{}
		for i := range e.Project.Services {
			svc := &e.Project.Services[i]
			name := units.MainName(svc)
			cur := byUnit[name]
			delete(byUnit, name)
			c := diff(svc, name, cur, memo)
			if podRecreated[svc.Pod] && c.Action == Keep {
				// Stopping the pod unit stopped its containers (BindsTo=).
				c.Action, c.Reason = Recreate, "pod sandbox recreated"
			}
			if dep := stoppedWith(svc, recreated); dep != "" && c.Action == Keep {
				// Stopping a dependency stops this unit too (Requires=,
				// PartOf=); services come in dependency order.
				c.Action, c.Reason = Recreate, "dependency "+dep+" is recreated"
			}
			if c.Action == Recreate {
				recreated[svc.Name] = true
			}
			p.Changes = append(p.Changes, c)
		}
	}
	// What is left is owned by no declared service: removed services of
	// loaded projects, and projects whose entry is gone.
	var rest []*Observed
	for _, o := range byUnit {
		if o.Project == "" || o.UnitFile || !selected(o.Project) {
			continue
		}
		if claimed[o.Project] && isKept(p, o.Unit) {
			continue
		}
		rest = append(rest, o)
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].Unit < rest[j].Unit })
	for _, o := range rest {
		p.Changes = append(p.Changes, Change{Action: Remove, Project: o.Project, Service: o.Service, Unit: o.Unit, Current: o})
	}
	return p
}

// stoppedWith names a dependency of svc being recreated whose stop systemd
// propagates to svc (required: Requires=; restart: true: PartOf=), or "".
func stoppedWith(svc *model.Service, recreated map[string]bool) string {
	names := make([]string, 0, len(svc.DependsOn))
	for n, d := range svc.DependsOn {
		if recreated[n] && (d.Required || d.Restart) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

func diff(svc *model.Service, name string, cur *Observed, memo *Memo) Change {
	c := Change{Project: svc.Project, Service: svc.Name, Unit: name, Desired: svc, Current: cur}
	switch hash := memo.hash(svc); {
	case cur == nil:
		c.Action = Create
	case cur.Hash != hash:
		c.Action, c.Reason = Recreate, fmt.Sprintf("spec changed (%s -> %s)", cur.Hash, hash)
	case cur.ActiveState == "inactive" && len(svc.Sockets) > 0 && !svc.Accepts():
		// A socket-activated service waits, inactive, for its first
		// connection (its .socket unit is PartOf= it and goes with it).
		c.Action = Keep
	case cur.ActiveState == "failed" || cur.ActiveState == "inactive":
		c.Action, c.Reason = Recreate, "unit is "+cur.ActiveState
		c.Repair = "unit was " + cur.ActiveState
	default:
		if d := limitsDrift(memo.limits(svc), cur.Limits); d != "" {
			c.Action, c.Reason, c.Repair = Recreate, d, d
			return c
		}
		c.Action = Keep
	}
	return c
}

// diffPod compares the unit of one of a project's pod sandboxes with the
// desired pod.
func diffPod(p *model.Project, pod *model.Pod, name string, cur *Observed) Change {
	c := Change{Project: p.Name, Service: pod.Service(), Unit: name, Pod: p, Sandbox: pod, Current: cur}
	want := units.PodHash(pod)
	switch {
	case cur == nil:
		c.Action = Create
	case cur.Hash != want:
		c.Action, c.Reason = Recreate, fmt.Sprintf("pod changed (%s -> %s)", cur.Hash, want)
	case cur.ActiveState == "failed" || cur.ActiveState == "inactive":
		c.Action, c.Reason = Recreate, "pod unit is "+cur.ActiveState
	default:
		c.Action = Keep
	}
	return c
}

// keepAll keeps every unit of a project whose file failed to load: a broken
// file never disturbs running services.
func keepAll(p *Plan, project string, observed []Observed) {
	for i := range observed {
		o := &observed[i]
		if o.Project == project {
			p.Changes = append(p.Changes, Change{Action: Keep, Project: o.Project, Service: o.Service, Unit: o.Unit, Current: o,
				Reason: "config has errors; keeping the running unit"})
		}
	}
}

func isKept(p *Plan, unit string) bool {
	for _, c := range p.Changes {
		if c.Unit == unit && c.Action == Keep {
			return true
		}
	}
	return false
}

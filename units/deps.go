package units

import (
	"slices"

	"github.com/berth-dev/berth/compose/model"
)

// dependencies maps depends_on to unit ordering. Every condition orders
// the dependent After= the dependency; what "after" means comes from the
// dependency's own unit:
//   - service_started: its launcher exits once the container runs;
//   - service_healthy: its launcher exits only after the first passing
//     health check (the loader sets its Notify to NotifyHealthy);
//   - service_completed_successfully: it is a oneshot unit whose start job
//     ends when the container exits, failing unless it exits 0.
//
// required (the default) is Requires=, so a dependency that fails to start
// fails the dependent's start too; required: false is Wants=. restart: true
// adds PartOf=, so stopping or restarting the dependency does the same to
// the dependent. (Requires= already propagates an explicit restart, as
// restart: true would; systemd has no "require without propagation".)
func dependencies(u *Unit, svc *model.Service) {
	names := make([]string, 0, len(svc.DependsOn))
	for n := range svc.DependsOn {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		d := svc.DependsOn[n]
		dep := Name(svc.Project, n)
		if d.Required {
			u.add("Unit", "Requires", dep)
		} else {
			u.add("Unit", "Wants", dep)
		}
		u.add("Unit", "After", dep)
		if d.Restart {
			u.add("Unit", "PartOf", dep)
		}
	}
}

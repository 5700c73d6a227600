package units

import (
	"fmt"

	"github.com/berth-dev/berth/compose/model"
)

// BuildName is the oneshot unit that builds svc's image (compose build:),
// named as Quadlet names its .build units.
func BuildName(project, service string) string {
	return Prefix + escape(project) + "-" + escape(service) + ".build.service"
}

// BuildTimeout bounds one build; a build that pulls and compiles takes
// minutes, not the default 90 s.
const BuildTimeout = "1h"

// BuildUnit runs `berth build-run` for svc's build described in jobPath: a
// oneshot unit, so its start job ends when the build does and its result
// is the build's, and buildah's output is this unit's journal. It carries
// no project/service environment, so the reconciler never mistakes it for
// a container's unit.
func BuildUnit(cfg Config, svc *model.Service, jobPath string) *Unit {
	u := &Unit{Name: BuildName(svc.Project, svc.Name)}
	u.add("Unit", "Description", printf(fmt.Sprintf("berth %s/%s image build", svc.Project, svc.Name)))
	u.add("Service", "Type", "oneshot")
	u.add("Service", "ExecStart", cfg.command("build-run", "--job", jobPath))
	u.add("Service", "SyslogIdentifier", printf(svc.Project+"-"+svc.Name+"-build"))
	u.add("Service", "TimeoutStartSec", BuildTimeout)
	cfg.dirs(u)
	return u
}

// RequireBuild makes u, svc's service unit, need its build unit: a unit
// file's service then builds (or finds built) its image before it starts.
func RequireBuild(u *Unit, svc *model.Service) {
	u.add("Unit", "Requires", BuildName(svc.Project, svc.Name))
	u.add("Unit", "After", BuildName(svc.Project, svc.Name))
}

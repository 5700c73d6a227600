package units

import (
	"fmt"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// OneOff adapts the service unit of a one-off container (berth run) made
// by Service for a oneshot: marked by the environment variable marker
// instead of as a declared service (no BERTH_PROJECT, so the reconciler
// neither repairs nor prunes it), gone once the command ends
// (RemainAfterExit=no), and its spec and credentials removed after cleanup.
// A consoleSocket (berth run -t, where berth listens) gives the container a
// pty whose master the launcher's container init sends there.
func OneOff(u *Unit, name, marker, target, image, specPath, consoleSocket string) *Unit {
	drop := map[string]bool{EnvProject: true, EnvService: true, EnvHash: true}
	out := &Unit{Name: name}
	for _, o := range u.Options {
		switch o.Name {
		case "RemainAfterExit", "Description":
			continue
		case "ExecStart":
			if consoleSocket != "" {
				// Service wrote `LAUNCHER run --wait --spec …` with execLine.
				v := strings.Replace(o.Value, " run --wait ", " run --wait --console-socket "+execLine(consoleSocket)+" ", 1)
				out.add(o.Section, o.Name, v)
				continue
			}
		case "Environment":
			if k, _, _ := strings.Cut(strings.TrimPrefix(o.Value, `"`), "="); drop[k] {
				continue
			}
		}
		out.Options = append(out.Options, o)
	}
	out.add("Unit", "Description", printf(fmt.Sprintf("berth run %s (%s)", target, image)))
	out.add("Service", "Environment", envLine(marker, target))
	out.add("Service", "RemainAfterExit", "no")
	rm := []string{"/bin/rm", "-rf", "--", specPath, model.CredentialDir(specPath)}
	if consoleSocket != "" {
		rm = append(rm, consoleSocket)
	}
	out.add("Service", "ExecStopPost", execLine(rm...))
	return out
}

// OneOffName is the unit of one-off id of project/service:
// berth-<project>-<service>-run-<id>.service, the "-run-" unescaped so it
// never collides with a declared service's unit (whose dashes are).
func OneOffName(project, service, id string) string {
	return Prefix + escape(project) + "-" + escape(service) + "-run-" + escape(id) + ".service"
}

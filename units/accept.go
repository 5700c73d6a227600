package units

import (
	"fmt"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// TemplateName is the template service an accepting socket (accept: true,
// Accept=yes) instantiates per connection: systemd names each instance
// <socket name without .socket>@<n>-<local>-<peer>.service.
func TemplateName(project, service string) string {
	return Prefix + escape(project) + "-" + escape(service) + "@.service"
}

// MainName is the unit that stands for svc, which berth observes, diffs,
// starts and removes: its service unit, or an accepting service's socket
// (it has no long-running service unit).
func MainName(svc *model.Service) string {
	if svc.Accepts() {
		return SocketName(svc.Project, svc.Name)
	}
	return Name(svc.Project, svc.Name)
}

// TemplateOf is the template an accepting socket unit instantiates, or ""
// when unit is no socket.
func TemplateOf(socket string) string {
	base, ok := strings.CutSuffix(socket, ".socket")
	if !ok {
		return ""
	}
	return base + "@.service"
}

// IsInstance reports whether unit is an instance of a template, such as a
// per-connection instance of an accepting socket.
func IsInstance(unit string) bool { return strings.Contains(unit, "@") }

// acceptSocket is the .socket unit of an accepting service: Accept=yes, so
// systemd accepts each connection itself and starts an instance of the
// template with that connection as fd 3. It carries the service's
// environment (hash, project, service): with no long-running service unit,
// the socket is what the reconciler observes, diffs and removes.
func acceptSocket(cfg Config, svc *model.Service) (*Unit, error) {
	u := &Unit{Name: SocketName(svc.Project, svc.Name)}
	u.add("Unit", "Description", printf(fmt.Sprintf("berth %s/%s sockets (a container per connection)", svc.Project, svc.Name)))
	for i, s := range svc.Sockets {
		kind, addr, err := ParseListen(s.Listen)
		if err != nil {
			return nil, fmt.Errorf("x-berth.sockets[%d]: %w", i, err)
		}
		if kind != "ListenStream" || !s.Accept {
			return nil, fmt.Errorf("x-berth.sockets[%d] (%s): accept: true needs every socket of the service to be a stream socket with accept: true", i, s.Listen)
		}
		u.add("Socket", kind, printf(addr))
	}
	u.add("Socket", "Accept", "yes")
	identity(u, "Socket", svc)
	if cfg.UnitFile {
		u.add("Socket", "Environment", envLine(EnvUnitFile, "1"))
	}
	return u, nil
}

// identity is the environment berth reads back from a unit it made.
func identity(u *Unit, section string, svc *model.Service) {
	u.add(section, "Environment", envLine(EnvHash, svc.Hash()))
	u.add(section, "Environment", envLine(EnvProject, svc.Project))
	u.add(section, "Environment", envLine(EnvService, svc.Name))
	u.add(section, "Environment", envLine(EnvImage, svc.Image))
}

// template is the service systemd instantiates per connection of an
// accepting socket. Each instance runs its own container the way a
// oneshot does (berth-launcher run --wait: the launcher stays its parent
// and ends with it), named by the instance's $INVOCATION_ID
// (model.InstanceID), so concurrent connections never share a rootfs,
// state dir or cgroup. The connection is the container's stdin and stdout
// (inetd style) and fd 3 (LISTEN_FDS=1). Limits apply per instance.
//
// Transient units cannot be templates (StartTransientUnit refuses a name
// with "@" and no instance: "Unit name x@.service is missing the instance
// name"; an instance is only ever loaded from a template file), so this unit is written as a runtime unit file to
// /run/systemd/system, systemd's own directory for units that vanish at
// reboot like transient ones; systemd (≥ 246) finds new files there
// without a daemon-reload, because it rebuilds its unit path cache when a
// search directory's mtime changed.
func template(cfg Config, svc *model.Service, specPath string) *Unit {
	u := &Unit{Name: TemplateName(svc.Project, svc.Name)}
	// %i: the instance, i.e. the connection's number and addresses.
	u.add("Unit", "Description", printf(fmt.Sprintf("berth %s/%s (%s)", svc.Project, svc.Name, svc.Image))+" connection %i")
	// Stopping or restarting the socket (down, recreate) stops the
	// connections it started, so no instance outlives its socket.
	u.add("Unit", "PartOf", SocketName(svc.Project, svc.Name))
	// A failed instance (a container exiting non-zero) is unloaded
	// too: one leftover unit per failed connection would pile up.
	u.add("Unit", "CollectMode", "inactive-or-failed")
	dependencies(u, svc)
	// exec: started once the launcher runs; the launcher is the main
	// process until the container exits, so a connection's container
	// needs no PIDFile= (which could not name a per-instance path).
	u.add("Service", "Type", "exec")
	u.add("Service", "ExecStart", cfg.launch("run", "--wait", "--spec", specPath, "--", svc.ID()))
	u.add("Service", "ExecStopPost", cfg.launch("cleanup", "--instance", "--", svc.ID()))
	u.add("Service", "SyslogIdentifier", printf(svc.Project+"-"+svc.Name))
	identity(u, "Service", svc)
	cfg.markUnitFile(u)
	cfg.dirs(u)
	u.add("Service", "Delegate", "yes")
	// mixed: the stop signal reaches the launcher, which forwards the
	// service's stop signal to the container and waits for it.
	u.add("Service", "KillMode", "mixed")
	u.add("Service", "TimeoutStopSec", seconds(grace(svc.StopGracePeriod)+CleanupBudget))
	// One connection, one run: a restart would have no connection.
	u.add("Service", "Restart", "no")
	resources(u, svc.Resources)
	return u
}

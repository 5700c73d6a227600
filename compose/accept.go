package compose

import (
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/compose/model"
)

// acceptRules checks a service with x-berth.sockets accept: true, which
// systemd runs as one short-lived container per connection (Accept=yes and
// a template service). Only stream sockets hand out connections, one
// .socket unit is either per-connection or not, and what needs one
// long-running container (its own address, health checks, restarts)
// cannot apply: the first two are errors, the rest warnings or loopback.
func acceptRules(c svcAt, sc types.ServiceConfig, s *model.Service) []error {
	var errs []error
	for i, sock := range s.Sockets {
		f := []string{xberthKey, "sockets", strconv.Itoa(i)}
		switch {
		case strings.HasPrefix(sock.Listen, "udp:"):
			errs = append(errs, c.errorf(append(f, "accept"), "%q is a datagram socket: accept: true needs a stream socket ([host:]port or a unix path), since only those have connections to hand out", sock.Listen))
		case !sock.Accept:
			errs = append(errs, c.errorf(append(f, "accept"), "%q: a service's sockets are all accept: true or all not; one .socket unit either starts one container per connection or one for all", sock.Listen))
		}
	}
	switch {
	case s.NetworkMode == "host" || s.NetworkMode == "none":
	case s.NetworkMode == "" && len(s.Ports) == 0 && implicitDefaultNetwork(s):
		// Concurrent per-connection containers cannot share the service's
		// one reserved address; they get loopback only (documented).
		s.Networks = nil
		s.NetworkMode = "none"
	default:
		field := "networks"
		if len(s.Ports) > 0 {
			field = "ports"
		} else if s.NetworkMode != "" {
			field = "network_mode"
		}
		errs = append(errs, c.errorf([]string{field}, "accept: true (x-berth.sockets) runs one container per connection, which cannot share the service's network address: use network_mode: none or host, and no networks or ports"))
	}
	if s.Init {
		errs = append(errs, c.errorf([]string{"init"}, "init: true cannot be combined with x-berth.sockets (LISTEN_PID=1 would name the init, not the service)"))
	}
	if sc.HealthCheck != nil && s.Health != nil {
		c.warnf([]string{"healthcheck"}, "is ignored: accept: true runs one short-lived container per connection, which has no health to watch")
	}
	s.Health, s.ImageHealth = nil, nil
	if s.Restart.Mode != "" && s.Restart.Mode != model.RestartNo {
		c.warnf([]string{"restart"}, "%s is ignored: accept: true runs one container per connection, which ends with it; the socket stays", s.Restart.Mode)
		s.Restart = model.Restart{Mode: model.RestartNo}
	}
	if s.Notify == model.NotifyHealthy {
		errs = append(errs, c.errorf([]string{xberthKey, "notify"}, "healthy cannot apply to accept: true: per-connection containers run no health checks"))
	}
	return errs
}

// implicitDefaultNetwork: the service joins only the project's default
// network, as compose gives every service without networks:.
func implicitDefaultNetwork(s *model.Service) bool {
	_, ok := s.Networks["default"]
	return len(s.Networks) == 0 || len(s.Networks) == 1 && ok
}

// acceptProject checks what other services ask of accepting ones, which
// have no long-running unit to wait for or namespace to join, and drops
// the default network when only accepting services had it.
func (l *loader) acceptProject(p *model.Project) error {
	var errs []error
	for i := range p.Services {
		s := &p.Services[i]
		c := svcAt{ps: l.pos, name: s.Name, l: l}
		for _, t := range p.Services {
			if !t.Accepts() {
				continue
			}
			// network_mode: service:X implies depends_on X: one error.
			if s.NetworkMode == "service:"+t.Name {
				errs = append(errs, c.errorf([]string{"network_mode"}, "%s runs one container per connection (x-berth.sockets accept: true) and has no network namespace to share", t.Name))
			} else if _, ok := s.DependsOn[t.Name]; ok {
				errs = append(errs, c.errorf([]string{"depends_on", t.Name}, "%s runs one container per connection (x-berth.sockets accept: true): there is no long-running service to wait for; its socket listens as soon as it is applied", t.Name))
			}
		}
	}
	if _, ok := p.Networks["default"]; ok {
		used := false
		for _, s := range p.Services {
			_, in := s.Networks["default"]
			used = used || in
		}
		if !used {
			delete(p.Networks, "default")
		}
	}
	return joinErrs(errs)
}

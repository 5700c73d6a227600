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
		errs = append(errs, c.errorf([]string{"network_mode"}, "accept: true (x-berth.sockets) runs one container per connection, which cannot share the service's network address: use network_mode: none or host, and no networks or ports"))
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

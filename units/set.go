package units

import (
	"fmt"

	"github.com/berth-dev/berth/compose/model"
)

// Set is every unit one service needs: the service itself and its
// companions. The same Set renders as transient units (Transient) and as
// unit files (Files), so both run the container the same way.
type Set struct {
	// Service runs the container; for an accepting service (accept:
	// true) it is the template instantiated per connection
	// (TemplateName), which is written as a file, never transient.
	Service *Unit
	// Accept is set for an accepting service.
	Accept bool
	// Socket is the .socket unit of a socket-activated service, else nil.
	Socket *Unit
	// HealthTimer and HealthService run the health and liveness probes;
	// nil when the service has none.
	HealthTimer, HealthService *Unit
}

// Build makes the units of svc, whose frozen spec is at specPath. Bad
// input (an x-berth.unit property outside the allow-list, an unparsable
// socket address, notify: healthy without a health check) is an error
// naming the field; nothing is built then.
func Build(cfg Config, svc *model.Service, specPath string) (*Set, error) {
	if svc.Notify == model.NotifyHealthy && svc.Health == nil {
		return nil, fmt.Errorf("x-berth.notify: healthy needs a healthcheck")
	}
	if svc.Oneshot && len(svc.Sockets) > 0 {
		return nil, fmt.Errorf("x-berth.sockets: a service that runs to completion cannot be socket-activated")
	}
	if svc.Accepts() {
		return buildAccept(cfg, svc, specPath)
	}
	s := &Set{Service: Service(cfg, svc, specPath)}
	if err := extra(s.Service, svc); err != nil {
		return nil, err
	}
	if len(svc.Sockets) > 0 {
		sock, err := socket(svc)
		if err != nil {
			return nil, err
		}
		s.Socket = sock
	}
	if hasHealth(svc) {
		s.HealthTimer = healthTimer(svc)
		s.HealthService = healthService(cfg, svc, specPath)
	}
	for _, u := range s.All() {
		if err := checkValues(u); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// buildAccept makes the units of an accepting service: its Accept=yes
// socket and the template it instantiates per connection. Health checks
// and restarts do not apply to per-connection containers (the loader warns).
func buildAccept(cfg Config, svc *model.Service, specPath string) (*Set, error) {
	if svc.Init {
		return nil, fmt.Errorf("x-berth.sockets: init: true cannot be combined with sockets")
	}
	sock, err := acceptSocket(cfg, svc)
	if err != nil {
		return nil, err
	}
	s := &Set{Service: template(cfg, svc, specPath), Socket: sock, Accept: true}
	if err := extra(s.Service, svc); err != nil {
		return nil, err
	}
	for _, u := range s.All() {
		if err := checkValues(u); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Transient is the unit to start with StartTransientUnit, with the other
// units of the set as its Aux units (created in the same call, started by
// their dependencies): the .socket unit for a socket-activated service, so
// the service starts on the first connection; otherwise the service, whose
// Wants= starts the health timer. An accepting service's socket carries
// its template in Files instead: transient units cannot be templates.
func (s *Set) Transient() *Unit {
	if s.Accept {
		u := *s.Socket
		u.Aux, u.Files = []*Unit{}, []*Unit{s.Service}
		return &u
	}
	first, aux := s.Service, []*Unit{}
	if s.Socket != nil {
		first, aux = s.Socket, append(aux, s.Service)
	}
	if s.HealthTimer != nil {
		aux = append(aux, s.HealthTimer, s.HealthService)
	}
	u := *first
	u.Aux = aux
	return &u
}

// Files are the units as unit files, each with the [Install] section that
// makes `systemctl enable` start the set at boot: the service (or, when
// socket-activated, the socket); the companions start through it.
func (s *Set) Files() []*Unit {
	var out []*Unit
	if s.Socket != nil {
		// An accepting service's template has no [Install]: its socket
		// instantiates it.
		out = append(out, persistent(s.Socket, "sockets.target"), s.Service)
	} else {
		out = append(out, Persistent(s.Service))
	}
	if s.HealthTimer != nil {
		out = append(out, s.HealthTimer, s.HealthService)
	}
	return out
}

// All lists the set's units, service first.
func (s *Set) All() []*Unit {
	out := []*Unit{s.Service}
	for _, u := range []*Unit{s.Socket, s.HealthTimer, s.HealthService} {
		if u != nil {
			out = append(out, u)
		}
	}
	return out
}

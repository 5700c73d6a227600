package units

import (
	"fmt"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// Docker's health check defaults, used when the model leaves a field zero.
const (
	DefaultHealthInterval      = 30 * time.Second
	DefaultHealthTimeout       = 30 * time.Second
	DefaultHealthRetries       = 3
	DefaultHealthStartInterval = 5 * time.Second
)

// HealthTimerName is the timer that runs svc's health checks.
func HealthTimerName(project, service string) string {
	return Prefix + escape(project) + "-" + escape(service) + "-health.timer"
}

// HealthServiceName is the oneshot unit the health timer starts.
func HealthServiceName(project, service string) string {
	return Prefix + escape(project) + "-" + escape(service) + "-health.service"
}

// hasHealth: a job that runs to completion is not probed.
func hasHealth(svc *model.Service) bool {
	return (svc.Health != nil || svc.Liveness != nil) && !svc.Oneshot
}

// HealthTick is how often the health timer fires once probes are past
// their start period: the shortest interval of any probe. `berth
// healthcheck` decides which probe is due, so one timer serves a readiness
// and a liveness probe with different intervals.
func HealthTick(svc *model.Service) time.Duration {
	tick := time.Duration(0)
	for _, h := range probes(svc) {
		if d := orDefault(h.Interval, DefaultHealthInterval); tick == 0 || d < tick {
			tick = d
		}
	}
	return tick
}

// healthFirst is when the first check runs after the service is active:
// start_interval for a probe with a start period, else its interval. During
// the start period `berth healthcheck` itself checks at start_interval
// until the probe passes or the period ends, so the timer need not fire
// that often for the service's whole life.
func healthFirst(svc *model.Service) time.Duration {
	first := time.Duration(0)
	for _, h := range probes(svc) {
		d := orDefault(h.Interval, DefaultHealthInterval)
		if h.StartPeriod > 0 {
			d = orDefault(h.StartInterval, DefaultHealthStartInterval)
		}
		if first == 0 || d < first {
			first = d
		}
	}
	return first
}

// healthRunLimit bounds one run of `berth healthcheck`: the longest start
// period plus a check's timeout, with room for starting berth.
func healthRunLimit(svc *model.Service) time.Duration {
	limit := time.Duration(0)
	for _, h := range probes(svc) {
		limit = max(limit, h.StartPeriod+2*orDefault(h.Timeout, DefaultHealthTimeout))
	}
	return limit + 30*time.Second
}

func probes(svc *model.Service) []*model.Health {
	var out []*model.Health
	for _, h := range []*model.Health{svc.Health, svc.Liveness} {
		if h != nil {
			out = append(out, h)
		}
	}
	return out
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// healthTimer fires `berth healthcheck` every tick while the service's unit
// is active. It is bound to the service unit (BindsTo=, After=), so it
// starts after the container is ready and stops with it; systemd's
// automatic restarts of the service leave it running.
func healthTimer(svc *model.Service) *Unit {
	main := Name(svc.Project, svc.Name)
	u := &Unit{Name: HealthTimerName(svc.Project, svc.Name)}
	u.add("Unit", "Description", printf(fmt.Sprintf("berth %s/%s health checks", svc.Project, svc.Name)))
	u.add("Unit", "BindsTo", main)
	u.add("Unit", "After", main)
	u.add("Timer", "OnActiveSec", usecs(healthFirst(svc)))
	// After each check ends, not at fixed points: a slow check never
	// overlaps the next, as with docker.
	u.add("Timer", "OnUnitInactiveSec", usecs(HealthTick(svc)))
	// The default accuracy is a minute; health intervals are seconds.
	u.add("Timer", "AccuracySec", "10ms")
	return u
}

// healthService runs one round of probes; a liveness probe that fails past
// its retries restarts the service unit (see `berth healthcheck`).
func healthService(cfg Config, svc *model.Service, specPath string) *Unit {
	u := &Unit{Name: HealthServiceName(svc.Project, svc.Name)}
	u.add("Unit", "Description", printf(fmt.Sprintf("berth %s/%s health check", svc.Project, svc.Name)))
	// A check in progress stops with the service, so a recreate finds no
	// leftover unit of the old set.
	u.add("Unit", "PartOf", Name(svc.Project, svc.Name))
	u.add("Service", "Type", "oneshot")
	u.add("Service", "ExecStart", cfg.command("healthcheck", "--spec", specPath, "--unit", Name(svc.Project, svc.Name), "--", svc.ID()))
	u.add("Service", "SyslogIdentifier", printf(svc.Project+"-"+svc.Name+"-health"))
	u.add("Service", "TimeoutStartSec", usecs(healthRunLimit(svc)))
	cfg.dirs(u)
	return u
}

// usecs renders d as a time span both systemd's unit-file parser and
// properties' usec read the same way ("1m30s", "500ms").
func usecs(d time.Duration) string { return d.String() }

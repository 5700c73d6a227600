package kube

import (
	"strings"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// Kubernetes' probe defaults.
const (
	defaultPeriod  = 10 * time.Second
	defaultTimeout = 1 * time.Second
	defaultFailure = 3
)

// probes maps readinessProbe to Health (it gates readiness, as compose's
// healthcheck does) and livenessProbe to Liveness (failure restarts the
// container). A startupProbe holds the others off until it passes; berth
// approximates that by giving them a start period as long as the startup
// probe's whole budget, and uses it as the health check when there is no
// readiness probe.
func (o *objects) probes(svc *model.Service, c *Container, path string) error {
	var err error
	var startup *model.Health
	if c.StartupProbe != nil {
		if startup, err = o.probe(c, c.StartupProbe, path+".startupProbe"); err != nil {
			return err
		}
	}
	if c.ReadinessProbe != nil {
		if svc.Health, err = o.probe(c, c.ReadinessProbe, path+".readinessProbe"); err != nil {
			return err
		}
	}
	if c.LivenessProbe != nil {
		if svc.Liveness, err = o.probe(c, c.LivenessProbe, path+".livenessProbe"); err != nil {
			return err
		}
	}
	if startup == nil {
		return nil
	}
	budget := startup.StartPeriod + startup.Interval*time.Duration(startup.Retries)
	for _, h := range []*model.Health{svc.Health, svc.Liveness} {
		if h != nil {
			h.StartPeriod = max(h.StartPeriod, budget)
		}
	}
	if svc.Health == nil {
		svc.Health = startup
	}
	return nil
}

// probe maps one probe; a named port is looked up among the container's.
func (o *objects) probe(c *Container, p *Probe, path string) (*model.Health, error) {
	d := o.workload
	h := &model.Health{
		Interval:    secondsOr(p.PeriodSeconds, defaultPeriod),
		Timeout:     secondsOr(p.TimeoutSeconds, defaultTimeout),
		Retries:     int(p.FailureThreshold),
		StartPeriod: time.Duration(p.InitialDelaySeconds) * time.Second,
	}
	if h.Retries == 0 {
		h.Retries = defaultFailure
	}
	if p.SuccessThreshold > 1 {
		o.warnf(path+".successThreshold", "only 1 is supported; a single success counts")
	}
	n := 0
	if p.Exec != nil {
		n++
		if len(p.Exec.Command) == 0 {
			return nil, d.errf(path+".exec.command", "required")
		}
		h.Cmd = append([]string{}, p.Exec.Command...)
	}
	if g := p.HTTPGet; g != nil {
		n++
		port, err := o.probePort(c, g.Port, path+".httpGet.port")
		if err != nil {
			return nil, err
		}
		scheme := strings.ToLower(g.Scheme)
		if scheme != "" && scheme != "http" && scheme != "https" {
			return nil, d.errf(path+".httpGet.scheme", "unknown scheme %q (valid: HTTP, HTTPS)", g.Scheme)
		}
		if g.Host != "" {
			o.warnf(path+".httpGet.host", "probes always target the pod itself; ignored")
		}
		h.HTTPGet = &model.HTTPProbe{Port: port, Path: g.Path, Scheme: scheme}
	}
	if t := p.TCPSocket; t != nil {
		n++
		port, err := o.probePort(c, t.Port, path+".tcpSocket.port")
		if err != nil {
			return nil, err
		}
		if t.Host != "" {
			o.warnf(path+".tcpSocket.host", "probes always target the pod itself; ignored")
		}
		h.TCPPort = port
	}
	if n != 1 {
		return nil, d.errf(path, "exactly one of exec, httpGet and tcpSocket is required")
	}
	return h, nil
}

func (o *objects) probePort(c *Container, p IntOrName, path string) (int, error) {
	if p.Name == "" {
		if p.Int < 1 || p.Int > 65535 {
			return 0, o.workload.errf(path, "must be 1-65535, not %d", p.Int)
		}
		return int(p.Int), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.Name {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, o.workload.errf(path, "no port named %q in the container", p.Name)
}

func secondsOr(s int32, def time.Duration) time.Duration {
	if s <= 0 {
		return def
	}
	return time.Duration(s) * time.Second
}

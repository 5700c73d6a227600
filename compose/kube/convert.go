package kube

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/compose"
)

// Podman-compatible annotations; the /<container> forms apply to one
// container and win over the pod-wide ones.
const (
	annotationAutoUpdate = "io.containers.autoupdate"
	annotationSdNotify   = "io.containers.sdnotify"
)

// defaultGracePeriod is Kubernetes' terminationGracePeriodSeconds default.
const defaultGracePeriod = 30 * time.Second

// defaultBackoffLimit is Kubernetes' Job backoffLimit default.
const defaultBackoffLimit = 6

// convert turns each workload's pod template into a pod of the project and
// its services, workload by workload in file order.
func (o *objects) convert(p *model.Project) error {
	o.several = len(o.workloads) > 1
	o.hostPorts, o.services = map[hostPortKey]string{}, map[string]string{}
	for i := range o.workloads {
		w := &o.workloads[i]
		o.workload, o.pod, o.kind, o.prefix, o.job = w.doc, w.pod, w.kind, w.prefix, w.job
		if err := o.convertPod(p); err != nil {
			return err
		}
	}
	return nil
}

// serviceName is the service of container c: c itself in a file's only
// pod, <pod>-<c> when the file has several (podman kube play's container
// name), so that two pods may both have a container "app".
func (o *objects) serviceName(c string) string {
	if o.several {
		return o.pod.Metadata.Name + "-" + c
	}
	return c
}

// convertPod turns the current workload's pod template into a pod of the
// project and its services: init containers first (in order), then the
// app containers.
func (o *objects) convertPod(p *model.Project) error {
	spec, meta := &o.pod.Spec, &o.pod.Metadata
	at := func(path string) string { return o.prefix + path }
	d := o.workload
	if len(spec.Containers) == 0 {
		return d.errf(at("spec.containers"), "at least one container is required")
	}
	// The names reach unit files, launcher command lines and paths under
	// the state dir: Kubernetes' own rules keep them plain.
	if err := compose.CheckDNSSubdomain(meta.Name); err != nil {
		return d.errf(at("metadata.name"), "%v", err)
	}
	if spec.Hostname != "" {
		if err := compose.CheckDNSLabel(spec.Hostname); err != nil {
			return d.errf(at("spec.hostname"), "%v", err)
		}
	}
	pod := &model.Pod{Name: meta.Name, Hostname: spec.Hostname, HostNetwork: spec.HostNetwork}
	if o.several {
		pod.ID = model.PodID(p.Name, meta.Name)
	}
	if pod.Hostname == "" {
		pod.Hostname = meta.Name // the kubelet's default: the pod's name
	}
	p.Pods = append(p.Pods, pod)
	if spec.DNSConfig != nil {
		dns := &model.DNSConfig{Nameservers: spec.DNSConfig.Nameservers, Searches: spec.DNSConfig.Searches}
		for _, opt := range spec.DNSConfig.Options {
			s := opt.Name
			if opt.Value != nil {
				s += ":" + *opt.Value
			}
			dns.Options = append(dns.Options, s)
		}
		pod.DNS = dns
	}
	switch spec.DNSPolicy {
	case "", "ClusterFirst", "ClusterFirstWithHostNet", "Default":
		// No cluster DNS on a single host: the host's resolver (plus
		// dnsConfig) is what all of these come down to.
	case "None":
		if spec.DNSConfig == nil || len(spec.DNSConfig.Nameservers) == 0 {
			return d.errf(at("spec.dnsPolicy"), "None needs dnsConfig.nameservers")
		}
	default:
		return d.errf(at("spec.dnsPolicy"), "unknown policy %q (valid: ClusterFirst, ClusterFirstWithHostNet, Default, None)", spec.DNSPolicy)
	}

	restart, err := o.restartPolicy(at)
	if err != nil {
		return err
	}
	grace := defaultGracePeriod
	if spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}

	var errs []error
	var inits []string // init containers that must complete first
	var sidecars []string
	names := map[string]string{}
	build := func(c *Container, path string) (*model.Service, bool) {
		if prev, dup := names[c.Name]; dup {
			errs = append(errs, d.errf(path+".name", "container name %q is also used by %s", c.Name, prev))
			return nil, false
		}
		names[c.Name] = path
		if prev, dup := o.services[o.serviceName(c.Name)]; dup {
			errs = append(errs, d.errf(path+".name", "container %q of pod %s is the service %q, as %s is: rename one", c.Name, meta.Name, o.serviceName(c.Name), prev))
			return nil, false
		}
		o.services[o.serviceName(c.Name)] = fmt.Sprintf("%s (%s %s)", d.where(path+".name"), d.meta.Kind, d.name)
		svc, err := o.container(p, pod, c, path)
		if err != nil {
			errs = append(errs, err)
			return nil, false
		}
		svc.StopGracePeriod = grace
		return svc, true
	}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		path := at(fmt.Sprintf("spec.initContainers[%d]", i))
		svc, ok := build(c, path)
		if !ok {
			continue
		}
		svc.DependsOn = dependsOn(inits, sidecars)
		switch c.RestartPolicy {
		case "Always":
			// A sidecar (Kubernetes 1.29+): started in order before the
			// app containers, then runs beside them.
			svc.Restart = model.Restart{Mode: model.RestartAlways}
			sidecars = append(sidecars, svc.Name)
		case "":
			// The kubelet retries a failed init container unless the pod's
			// policy is Never.
			svc.Oneshot = true
			svc.Restart = model.Restart{Mode: model.RestartNo}
			if restart.Mode != model.RestartNo {
				svc.Restart = model.Restart{Mode: model.RestartOnFailure}
			}
			inits = append(inits, svc.Name)
		default:
			errs = append(errs, d.errf(path+".restartPolicy", "unknown policy %q (valid: Always)", c.RestartPolicy))
			continue
		}
		p.Services = append(p.Services, *svc)
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		path := at(fmt.Sprintf("spec.containers[%d]", i))
		if c.RestartPolicy != "" {
			errs = append(errs, d.errf(path+".restartPolicy", "only init containers may set restartPolicy"))
			continue
		}
		svc, ok := build(c, path)
		if !ok {
			continue
		}
		svc.DependsOn = dependsOn(inits, sidecars)
		svc.Restart = restart
		svc.Oneshot = o.kind == "Job"
		p.Services = append(p.Services, *svc)
	}
	return errors.Join(errs...)
}

// dependsOn orders a container after the init containers (which must exit 0)
// and the sidecars (which must have started) declared before it.
func dependsOn(inits, sidecars []string) map[string]model.Dependency {
	if len(inits)+len(sidecars) == 0 {
		return nil
	}
	m := map[string]model.Dependency{}
	for _, n := range inits {
		m[n] = model.Dependency{Condition: model.ConditionCompleted, Required: true}
	}
	for _, n := range sidecars {
		m[n] = model.Dependency{Condition: model.ConditionStarted, Required: true}
	}
	return m
}

// restartPolicy maps the pod's restartPolicy; a Job's pod retries up to
// backoffLimit times with OnFailure.
func (o *objects) restartPolicy(at func(string) string) (model.Restart, error) {
	d, pol := o.workload, o.pod.Spec.RestartPolicy
	if pol == "" {
		pol = "Always"
		if o.kind == "Job" {
			pol = "Never"
		}
	}
	switch pol {
	case "Always":
		if o.kind == "Job" {
			return model.Restart{}, d.errf(at("spec.restartPolicy"), "a Job's pod must use OnFailure or Never")
		}
		return model.Restart{Mode: model.RestartAlways}, nil
	case "OnFailure":
		r := model.Restart{Mode: model.RestartOnFailure}
		if o.kind == "Job" {
			r.MaxRetries = defaultBackoffLimit
			if o.job.BackoffLimit != nil {
				r.MaxRetries = int(*o.job.BackoffLimit)
			}
			if r.MaxRetries == 0 {
				r = model.Restart{Mode: model.RestartNo}
			}
		}
		return r, nil
	case "Never":
		return model.Restart{Mode: model.RestartNo}, nil
	}
	return model.Restart{}, d.errf(at("spec.restartPolicy"), "unknown policy %q (valid: Always, OnFailure, Never)", pol)
}

// annotation returns the container's own value of key, else the pod's.
func (o *objects) annotation(key, container string) (string, string, bool) {
	a := o.pod.Metadata.Annotations
	if v, ok := a[key+"/"+container]; ok {
		return v, key + "/" + container, true
	}
	v, ok := a[key]
	return v, key, ok
}

// container maps one container to a service of the pod.
func (o *objects) container(p *model.Project, pod *model.Pod, c *Container, path string) (*model.Service, error) {
	d := o.workload
	if c.Name == "" {
		return nil, d.errf(path+".name", "required")
	}
	if err := compose.CheckDNSLabel(c.Name); err != nil {
		return nil, d.errf(path+".name", "%v", err)
	}
	if err := model.CheckID(p.Name, o.serviceName(c.Name)); err != nil {
		return nil, d.errf(path+".name", "%v", err)
	}
	if c.Image == "" {
		return nil, d.errf(path+".image", "required")
	}
	if err := compose.CheckImage(c.Image); err != nil {
		return nil, d.errf(path+".image", "%v", err)
	}
	svc := &model.Service{
		Project:    p.Name,
		Name:       o.serviceName(c.Name),
		Image:      c.Image,
		WorkingDir: c.WorkingDir,
		Tty:        c.TTY,
		Pod:        pod.Name,
		PodID:      pod.ID,
		// The pod's UTS namespace carries the hostname; this is what the
		// container's $HOSTNAME says.
		Hostname: pod.Hostname,
	}
	if len(o.pod.Metadata.Labels) > 0 {
		svc.Labels = map[string]string{}
		for k, v := range o.pod.Metadata.Labels {
			svc.Labels[k] = v
		}
	}
	spec := &o.pod.Spec
	if spec.HostNetwork {
		svc.NetworkMode = "host"
	}
	if spec.DNSConfig != nil {
		svc.DNS, svc.DNSSearch = spec.DNSConfig.Nameservers, spec.DNSConfig.Searches
	}
	for _, h := range spec.HostAliases {
		for _, n := range h.Hostnames {
			svc.ExtraHosts = append(svc.ExtraHosts, n+":"+h.IP)
		}
	}

	env, secret, runtimeEnv, err := o.environment(c, path)
	if err != nil {
		return nil, err
	}
	svc.RuntimeEnv = runtimeEnv
	// A Secret's values leave Environment, which the spec stores: they
	// travel as encrypted credentials (model.SecretEnvVar).
	for _, k := range sortedKeys(env) {
		if secret[k] {
			svc.SecretEnv = append(svc.SecretEnv, model.NewSecretEnvVar(k, env[k]))
			delete(env, k)
		}
	}
	if len(env) > 0 {
		svc.Environment = env
	}
	// Kubernetes: command replaces the image's ENTRYPOINT and drops its
	// CMD; args alone replaces CMD. Docker's rules for entrypoint and
	// command, which Service follows, are the same.
	if len(c.Command) > 0 {
		svc.Entrypoint = expandAll(c.Command, env)
	}
	if len(c.Args) > 0 {
		svc.Command = expandAll(c.Args, env)
	}
	if svc.Ports, err = o.ports(c, path); err != nil {
		return nil, err
	}
	if len(svc.Ports) > 0 {
		svc.PortsAt = o.workload.where(path + ".ports")
	}
	if svc.Resources, err = o.resources(c, path); err != nil {
		return nil, err
	}
	if err := o.security(svc, c, path); err != nil {
		return nil, err
	}
	if err := o.volumes(p, svc, c, path); err != nil {
		return nil, err
	}
	if err := o.probes(svc, c, path); err != nil {
		return nil, err
	}
	if v, key, ok := o.annotation(annotationAutoUpdate, c.Name); ok {
		switch v {
		case "registry", "local", "disabled":
			svc.AutoUpdate = v
		default:
			return nil, d.errf("metadata.annotations."+key, "unknown policy %q (valid: registry, local, disabled)", v)
		}
	}
	if v, key, ok := o.annotation(annotationSdNotify, c.Name); ok {
		switch v {
		case "conmon", "ignore":
			svc.Notify = model.NotifyRunning
		case "container":
			svc.Notify = model.NotifyContainer
		case "healthy":
			svc.Notify = model.NotifyHealthy
		default:
			return nil, d.errf("metadata.annotations."+key, "unknown mode %q (valid: conmon, container, healthy, ignore)", v)
		}
	}
	return svc, nil
}

// ports publishes the ports that have a hostPort; the others only document
// what the container listens on, as in Kubernetes.
func (o *objects) ports(c *Container, path string) ([]model.Port, error) {
	var out []model.Port
	for i, cp := range c.Ports {
		pp := fmt.Sprintf("%s.ports[%d]", path, i)
		if cp.ContainerPort < 1 || cp.ContainerPort > 65535 {
			return nil, o.workload.errf(pp+".containerPort", "must be 1-65535, not %d", cp.ContainerPort)
		}
		if cp.HostPort == 0 {
			continue
		}
		if cp.HostPort < 0 || cp.HostPort > 65535 {
			return nil, o.workload.errf(pp+".hostPort", "must be 1-65535, not %d", cp.HostPort)
		}
		proto := strings.ToLower(cp.Protocol)
		switch proto {
		case "":
			proto = "tcp"
		case "tcp", "udp":
		default:
			return nil, o.workload.errf(pp+".protocol", "unsupported protocol %q (valid: TCP, UDP)", cp.Protocol)
		}
		// Every pod of the file publishes on the host's ports: each host
		// address, port and protocol once (0.0.0.0 overlaps them all).
		k := hostPortKey{cp.HostIP, cp.HostPort, proto}
		here := fmt.Sprintf("%s (%s %s, container %s)", o.workload.where(pp+".hostPort"), o.workload.meta.Kind, o.workload.name, c.Name)
		for prev, at := range o.hostPorts {
			if prev.port == k.port && prev.proto == k.proto && (prev.ip == k.ip || prev.ip == "" || k.ip == "" || prev.ip == "0.0.0.0" || k.ip == "0.0.0.0") {
				return nil, o.workload.errf(pp+".hostPort", "hostPort %d/%s is already published by %s", cp.HostPort, proto, at)
			}
		}
		o.hostPorts[k] = here
		out = append(out, model.Port{HostIP: cp.HostIP, HostPort: uint16(cp.HostPort), ContainerPort: uint16(cp.ContainerPort), Protocol: proto})
	}
	return out, nil
}

// hostPortKey is a published host address, port and protocol.
type hostPortKey struct {
	ip    string
	port  int32
	proto string
}

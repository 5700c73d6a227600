package network

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/berth-dev/berth/compose/model"
)

// A Kubernetes pod has one network namespace, pinned by its pod unit and
// shared by its containers. Apply (Prepare) reserves each pod one address on
// its project's default network, as member PodID(key) with service
// model.Pod.Service (PodService for a file's only pod);
// the pod unit (berth pod-run) attaches the namespace once, with every
// container's hostPort published onto it, and pod-cleanup detaches it.

// PodService is the service name of a pod's member record. It is the pod
// unit's service name too (units.PodService): no compose or Kubernetes
// container name can start with a dot.
const PodService = ".pod"

// PodID is the member and CNI container id of the pod keyed key
// (model.Pod.Key). The dot keeps it apart from every container id
// (<project>-<service>).
func PodID(key string) string { return key + PodService }

// podNetwork is the compose key and definition of the network a project's
// pods are attached to: its default network (declared or implied). ok is
// false when the project has no pod or every pod uses the host's network.
func podNetwork(proj *model.Project) (key string, n model.Network, ok bool) {
	if proj == nil || !slices.ContainsFunc(proj.Pods, func(p *model.Pod) bool { return !p.HostNetwork }) {
		return "", model.Network{}, false
	}
	if d, found := proj.Networks["default"]; found {
		return "default", d, true
	}
	return "default", model.Network{}, true
}

// podNames are the names the pod's address resolves to: its hostname and
// its name.
func podNames(pod *model.Pod) []string {
	var out []string
	for _, n := range []string{pod.Hostname, pod.Name} {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// podPublished is every hostPort of pod's containers: they all listen in
// the one namespace, so each host address, port and protocol may be
// published once.
func podPublished(proj *model.Project, pod *model.Pod) ([]model.Port, error) {
	type key struct {
		ip    string
		port  uint16
		proto string
	}
	seen := map[key]string{}
	var out []model.Port
	for _, svc := range proj.Services {
		if svc.Pod != pod.Name {
			continue
		}
		for _, pt := range svc.Ports {
			proto := pt.Protocol
			if proto == "" {
				proto = "tcp"
			}
			k := key{pt.HostIP, pt.HostPort, proto}
			if prev, dup := seen[k]; dup {
				return nil, fmt.Errorf("container %s: hostPort %d/%s is already published by container %s of the same pod", svc.Name, pt.HostPort, proto, prev)
			}
			seen[k] = svc.Name
			pt.Protocol = proto
			out = append(out, pt)
		}
	}
	return out, nil
}

// AttachPod connects the pod namespace pinned at netnsPath (made by the
// pod unit) to the networks apply reserved for it, with ports published on
// the first network that is not internal. On error nothing stays attached.
func (l *Launcher) AttachPod(ctx context.Context, key, netnsPath string, nets map[string]model.NetworkAttachment, ports []model.Port) error {
	_, err := l.attachNetworks(ctx, PodID(key), netnsPath, nets, ports)
	return err
}

// podAddresses are the addresses apply reserved for the pod keyed key, by
// network: what its containers' hosts files name as their own.
func podAddresses(p Paths, key string) (map[string]string, error) {
	recs, err := p.Records()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	id := PodID(key)
	for _, r := range recs {
		ms, err := p.Members(r.Name)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.ID == id {
				out[r.Name] = m.IP
			}
		}
	}
	return out, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

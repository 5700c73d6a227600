package network

import (
	"fmt"
	"slices"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// network_mode container:NAME names a container by its container_name or
// id, possibly of another project. Apply resolves it to the canonical
// container:PROJECT/SERVICE (no container name holds a '/'), so the unit
// can be bound to its peer's unit (units) and the launcher finds the
// peer's namespace without guessing.

// ContainerPeer splits a resolved network_mode container:PROJECT/SERVICE;
// ok is false for any other mode, including an unresolved container:NAME.
func ContainerPeer(mode string) (project, service string, ok bool) {
	ref, found := strings.CutPrefix(mode, "container:")
	if !found {
		return "", "", false
	}
	project, service, ok = strings.Cut(ref, "/")
	return project, service, ok && project != "" && service != ""
}

// peerOf is the container whose namespace svc joins, as PROJECT/SERVICE,
// looking container:NAME up among every loaded entry's container names and
// ids. ok is false when svc has its own namespace or the host's. A name
// nobody has is an error, unless some entry failed to load (its containers
// are unknown; the launcher then looks the name up among the network
// reservations when it starts).
func peerOf(entries []model.Entry, svc *model.Service) (project, service string, ok bool, err error) {
	if target, found := strings.CutPrefix(svc.NetworkMode, "service:"); found {
		return svc.Project, target, target != "", nil
	}
	name, found := strings.CutPrefix(svc.NetworkMode, "container:")
	if !found {
		return "", "", false, nil
	}
	if project, service, ok := ContainerPeer(svc.NetworkMode); ok {
		return project, service, true, nil
	}
	incomplete := false
	var hits []*model.Service
	for _, e := range entries {
		if e.Err != nil || e.Project == nil {
			incomplete = true
			continue
		}
		for j := range e.Project.Services {
			t := &e.Project.Services[j]
			if t.ContainerName == name || t.ID() == name {
				hits = append(hits, t)
			}
		}
	}
	switch {
	case len(hits) == 1 && hits[0].ID() == svc.ID():
		return "", "", false, fmt.Errorf("service %s: network_mode %s: a container cannot share its own network namespace", svc.Name, svc.NetworkMode)
	case len(hits) == 1:
		return hits[0].Project, hits[0].Name, true, nil
	case len(hits) > 1:
		return "", "", false, fmt.Errorf("service %s: network_mode %s: %q names %s and %s; use the container id PROJECT-SERVICE", svc.Name, svc.NetworkMode, name, hits[0].ID(), hits[1].ID())
	case !incomplete:
		return "", "", false, fmt.Errorf("service %s: network_mode %s: no berth container is named %q (container_name or PROJECT-SERVICE)", svc.Name, svc.NetworkMode, name)
	}
	return "", "", false, nil
}

// resolveNetnsPeers rewrites proj's network_mode container:NAME to
// container:PROJECT/SERVICE, and fills each service's Joiners with the
// containers of every loaded entry that join its namespace. It only reads
// the other entries.
func resolveNetnsPeers(entries []model.Entry, proj *model.Project) error {
	joiners := map[string][]string{} // service of proj → joiners
	for _, e := range entries {
		if e.Err != nil || e.Project == nil {
			continue
		}
		for j := range e.Project.Services {
			t := &e.Project.Services[j]
			project, service, ok, err := peerOf(entries, t)
			if err != nil || !ok || project != proj.Name {
				continue // t's own project reports its error
			}
			joiners[service] = append(joiners[service], t.Project+"/"+t.Name)
		}
	}
	for i := range proj.Services {
		svc := &proj.Services[i]
		svc.Joiners = nil
		if j := joiners[svc.Name]; len(j) > 0 {
			slices.Sort(j)
			svc.Joiners = slices.Compact(j)
		}
		if !strings.HasPrefix(svc.NetworkMode, "container:") {
			continue
		}
		project, service, ok, err := peerOf(entries, svc)
		if err != nil {
			return err
		}
		if ok {
			svc.NetworkMode = "container:" + project + "/" + service
		}
	}
	return nil
}

// hasExternal reports whether proj joins a network another project declares.
func hasExternal(proj *model.Project) bool {
	for _, n := range proj.Networks {
		if n.External {
			return true
		}
	}
	return false
}

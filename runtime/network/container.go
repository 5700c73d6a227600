package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// Container is what the launcher applies to a container's OCI spec.
type Container struct {
	// NetnsPath is the network namespace to join; "" keeps the runtime's
	// choice (a private namespace with loopback, or the host's for
	// network_mode: host).
	NetnsPath string
	// Files maps paths in the container (/etc/hosts, /etc/resolv.conf,
	// /etc/hostname) to files to bind-mount there.
	Files map[string]string
	// Hostname is the container's host name.
	Hostname string
}

// Launcher sets up and tears down one container's network inside its
// unit: in `berth run` before the container starts and in `berth cleanup`.
type Launcher struct {
	Paths     Paths
	PluginDir string // configured plugin dir; "" searches (FindPluginDir)
	Log       *slog.Logger
}

func (l *Launcher) networker() (*Networker, error) {
	dir, err := FindPluginDir(l.PluginDir)
	if err != nil {
		return nil, err
	}
	return New(l.Paths, dir, l.Log), nil
}

// Setup gives svc its network according to network_mode: its own
// namespace attached to its networks (addresses and published ports as
// apply reserved them), the namespace of another container, the host's,
// or loopback only. It writes hosts, resolv.conf and hostname into dir (the
// container's run dir). On error everything it made is removed again.
func (l *Launcher) Setup(ctx context.Context, dir string, svc *model.Service) (_ *Container, retErr error) {
	id := svc.ID()
	hostname := svc.Hostname
	if hostname == "" {
		hostname = svc.Name
	}
	c := &Container{Hostname: hostname, Files: map[string]string{}}
	info := &netInfo{ID: id, Hostname: hostname, Extra: svc.ExtraHosts}
	mode, target, _ := strings.Cut(svc.NetworkMode, ":")
	hostNetwork := mode == "host"

	defer func() {
		if retErr != nil {
			if err := l.Teardown(context.WithoutCancel(ctx), id); err != nil {
				l.Log.Error("removing the network after a failed setup", "container", id, "err", err)
			}
		}
	}()
	var hosts []byte
	var err error
	switch mode {
	case "host":
		hosts, err = hostHosts(info)
	case "none":
		hosts, err = renderHosts(l.Paths, info)
	case "service", "container":
		tid, err := l.targetID(svc, mode, target)
		if err != nil {
			return nil, err
		}
		c.NetnsPath = l.Paths.NetnsPath(tid)
		if _, err := os.Stat(c.NetnsPath); err != nil {
			return nil, fmt.Errorf("network_mode %s: container %s has no network namespace (is it running?)", svc.NetworkMode, tid)
		}
		info.Follow = tid
		tdir := filepath.Join(l.Paths.RunDir, "containers", tid)
		hosts, _ = os.ReadFile(filepath.Join(tdir, hostsFile))
		if r, err := os.ReadFile(filepath.Join(tdir, resolvFile)); err == nil && len(svc.DNS) == 0 && len(svc.DNSSearch) == 0 {
			if err := writeInPlace(filepath.Join(dir, resolvFile), r); err != nil {
				return nil, err
			}
		}
	case "":
		if svc.Pod != "" {
			// The pod unit attached the pod's namespace, which the
			// container joins (runtime.joinPod): its address is the pod's.
			if info.Networks, err = podAddresses(l.Paths, svc.PodKey()); err != nil {
				return nil, err
			}
			info.Member = PodID(svc.PodKey())
		} else if len(svc.Networks) > 0 {
			c.NetnsPath = l.Paths.NetnsPath(id)
			if err := l.attach(ctx, svc, c.NetnsPath, info); err != nil {
				return nil, err
			}
		}
		hosts, err = renderHosts(l.Paths, info)
	default:
		return nil, fmt.Errorf("network_mode %q: want host, none, service:NAME or container:NAME", svc.NetworkMode)
	}
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, resolvFile)); err != nil {
		resolv, err := renderResolv(svc.DNS, svc.DNSSearch, hostNetwork)
		if err != nil {
			return nil, err
		}
		if mode == "none" {
			resolv = nil
		}
		if err := writeInPlace(filepath.Join(dir, resolvFile), resolv); err != nil {
			return nil, err
		}
	}
	if err := writeInPlace(filepath.Join(dir, hostsFile), hosts); err != nil {
		return nil, err
	}
	if err := writeInPlace(filepath.Join(dir, hostnameFile), []byte(hostname+"\n")); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, netInfoFile), info); err != nil {
		return nil, err
	}
	for _, f := range []string{hostsFile, resolvFile, hostnameFile} {
		c.Files["/etc/"+f] = filepath.Join(dir, f)
	}
	return c, nil
}

// attach pins a new namespace for svc and connects it to its networks.
func (l *Launcher) attach(ctx context.Context, svc *model.Service, path string, info *netInfo) error {
	if err := CreateNetns(path); err != nil {
		return err
	}
	addrs, err := l.attachNetworks(ctx, svc.ID(), path, svc.Networks, svc.Ports)
	info.Networks = addrs
	return err
}

// attachNetworks connects the namespace pinned at path to nets (each with
// the address apply reserved) as container id; ports are published on the
// first network that is not internal, in priority order. It returns the
// addresses by network.
func (l *Launcher) attachNetworks(ctx context.Context, id, path string, nets map[string]model.NetworkAttachment, ports []model.Port) (map[string]string, error) {
	n, err := l.networker()
	if err != nil {
		return nil, err
	}
	addrs := map[string]string{}
	var atts []Attachment
	published := len(ports) == 0
	// The highest priority network is eth0, whose default route wins.
	order := model.NetworkOrder(nets)
	for _, name := range order {
		a := Attachment{Network: name, IP: nets[name].IPv4, MAC: nets[name].MAC}
		if v6 := nets[name].IPv6; v6 != "" {
			a.More = append(a.More, v6)
		}
		a.More = append(a.More, nets[name].More...)
		if a.IP == "" {
			return nil, fmt.Errorf("network %s: no address reserved for %s; run berth apply", name, id)
		}
		if !published {
			r, err := l.Paths.ReadRecord(name)
			if err != nil {
				return nil, err
			}
			if !r.Internal {
				a.Ports, published = ports, true
			}
		}
		atts = append(atts, a)
		addrs[name] = a.IP
	}
	if !published {
		return nil, fmt.Errorf("ports cannot be published: every network of %s is internal", id)
	}
	if err := n.AttachNetns(ctx, id, path, atts); err != nil {
		return addrs, err
	}
	for i, name := range order {
		if err := addLinkLocal(path, fmt.Sprintf("eth%d", i), nets[name].LinkLocal); err != nil {
			return addrs, fmt.Errorf("network %s: %w", name, err)
		}
	}
	return addrs, nil
}

// targetID resolves network_mode service:NAME (a service of the same
// project) or container:NAME (a container_name or container id).
func (l *Launcher) targetID(svc *model.Service, mode, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("network_mode %s: missing name", mode)
	}
	if mode == "service" {
		if err := model.CheckID(svc.Project, name); err != nil {
			return "", fmt.Errorf("network_mode %s: %w", mode, err)
		}
		return svc.Project + "-" + name, nil
	}
	if project, service, ok := ContainerPeer(svc.NetworkMode); ok {
		if err := model.CheckID(project, service); err != nil {
			return "", fmt.Errorf("network_mode %s: %w", mode, err)
		}
		return project + "-" + service, nil
	}
	recs, _ := l.Paths.Records()
	for _, r := range recs {
		ms, _ := l.Paths.Members(r.Name)
		for _, m := range ms {
			if m.ID != svc.ID() && slices.Contains(m.Names, name) && m.Service != name {
				return m.ID, nil
			}
		}
	}
	if err := model.Elem(name); err != nil {
		return "", fmt.Errorf("network_mode %s: %w", mode, err)
	}
	return name, nil
}

// Teardown deletes container id's network attachments (with the arguments
// their ADD had) and unpins its namespace. It is idempotent.
func (l *Launcher) Teardown(ctx context.Context, id string) error {
	var errs []error
	if atts, _ := cachedIDs(l.Paths, id); atts {
		n, err := l.networker()
		if err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, n.DetachNetns(ctx, id))
		}
	}
	errs = append(errs, RemoveNetns(l.Paths.NetnsPath(id)))
	return errors.Join(errs...)
}

// cachedIDs reports whether libcni's cache holds attachments of id.
func cachedIDs(p Paths, id string) (bool, error) {
	des, err := os.ReadDir(filepath.Join(p.cacheDir(), "results"))
	if err != nil {
		return false, err
	}
	for _, de := range des {
		if strings.Contains(de.Name(), "-"+id+"-") {
			return true, nil
		}
	}
	return false, nil
}

// hostHosts is the host's /etc/hosts plus extra_hosts, for network_mode
// host, where host-gateway is the host's loopback address.
func hostHosts(info *netInfo) ([]byte, error) {
	b, _ := os.ReadFile("/etc/hosts")
	for _, e := range info.Extra {
		name, ip, err := parseExtraHost(e, func() (netip.Addr, error) { return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil })
		if err != nil {
			return nil, err
		}
		b = fmt.Appendf(b, "%s\t%s\n", ip, name)
	}
	return b, nil
}

package units

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// EnvPod names the pod a pod unit pins; container units do not carry it.
const EnvPod = "BERTH_POD"

// PodService is the service name the only pod of a file reports
// (BERTH_SERVICE), so plan and ps show it as PROJECT/.pod; the pods of a
// file with several report .pod.<pod> (model.Pod.Service). No compose or
// Kubernetes container name can start with a dot.
const PodService = model.PodServicePrefix

// IsPodService tells whether a unit's service name is a pod sandbox's.
func IsPodService(service string) bool { return model.IsPodService(service) }

// PodName is the unit of the pod sandbox keyed key (model.Pod.Key):
// berth-<project>.pod.service for a file's only pod,
// berth-<project>.<pod>.pod.service for each of several. The dots keep it
// apart from every container unit (berth-<project>-<service>.service),
// whatever the containers are called, and project names hold no dot.
func PodName(key string) string {
	return Prefix + escape(key) + ".pod.service"
}

// PodHash is the pod unit's spec hash: it changes exactly when the sandbox
// would be made differently.
func PodHash(pod *model.Pod) string {
	b, err := json.Marshal(pod)
	if err != nil {
		panic("units: pod is not serialisable: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// Pod builds the unit that pins the namespaces of p's pod. It is oneshot
// with RemainAfterExit: berth pod-run makes and pins the namespaces and
// exits, and the unit stays active until stopped, when pod-cleanup unpins
// them. Container units are BindsTo= it (see podMember), so stopping the pod
// stops its containers.
func Pod(cfg Config, project string, pod *model.Pod) *Unit {
	key := pod.Key(project)
	u := &Unit{Name: PodName(key)}
	u.add("Unit", "Description", printf(fmt.Sprintf("berth pod %s (%s)", project, pod.Name)))
	u.add("Service", "Type", "oneshot")
	u.add("Service", "RemainAfterExit", "yes")
	args := []string{"pod-run"}
	if pod.Hostname != "" {
		args = append(args, "--hostname", pod.Hostname)
	}
	if pod.HostNetwork {
		args = append(args, "--host-network")
	}
	// The addresses apply reserved and the containers' hostPorts: pod-run
	// attaches the pod's netns once, with them.
	nets := make([]string, 0, len(pod.Networks))
	for name := range pod.Networks {
		nets = append(nets, name)
	}
	sort.Strings(nets)
	for _, name := range nets {
		args = append(args, "--network", name+"="+pod.Networks[name].IPv4)
	}
	for _, pt := range pod.Ports {
		args = append(args, "--publish", PodPublishArg(pt))
	}
	u.add("Service", "ExecStart", cfg.launch(append(args, "--", key)...))
	u.add("Service", "ExecStopPost", cfg.launch("pod-cleanup", "--", key))
	u.add("Service", "SyslogIdentifier", printf(key+"-pod"))
	u.add("Service", "Environment", envLine(EnvHash, PodHash(pod)))
	u.add("Service", "Environment", envLine(EnvProject, project))
	u.add("Service", "Environment", envLine(EnvService, pod.Service()))
	u.add("Service", "Environment", envLine(EnvPod, pod.Name))
	cfg.markUnitFile(u)
	cfg.dirs(u)
	u.add("Service", "TimeoutStartSec", "1min")
	return u
}

// podMember binds a pod's container unit to the pod unit: it starts after
// the namespaces exist (starting it starts the pod), and stops with it.
func podMember(u *Unit, svc *model.Service) {
	if svc.Pod == "" {
		return
	}
	pod := PodName(svc.PodKey())
	u.add("Unit", "BindsTo", pod)
	u.add("Unit", "After", pod)
}

// NetnsPeer is the container whose network namespace svc joins: NAME of
// network_mode service:NAME, or PROJECT/SERVICE of container:NAME as apply
// resolves it. ok is false otherwise (an unresolved container:NAME too).
func NetnsPeer(svc *model.Service) (project, service string, ok bool) {
	if target, found := strings.CutPrefix(svc.NetworkMode, "service:"); found && target != "" {
		return svc.Project, target, true
	}
	if ref, found := strings.CutPrefix(svc.NetworkMode, "container:"); found {
		project, service, ok = strings.Cut(ref, "/")
		return project, service, ok && project != "" && service != ""
	}
	return "", "", false
}

// netnsPeer binds the unit of a container that joins another's network
// namespace (NetnsPeer) to that container's unit: it starts after the peer
// has pinned its namespace, and stops with it (BindsTo=), since a
// restarted peer has a new namespace that the joiner must enter again.
//
// The peer's unit Wants= its joiners (model.Service.Joiners), so they
// start again with it: a restart job, systemd's automatic restart included
// (systemd 252 queues it as one), pulls them in as starts. BindsTo= alone
// turns an explicit restart of the peer into a try-restart of the joiner,
// but a crashed peer has already stopped them, and they would stay down.
func netnsPeer(u *Unit, svc *model.Service) {
	for _, j := range svc.Joiners {
		if project, service, ok := strings.Cut(j, "/"); ok {
			u.add("Unit", "Wants", Name(project, service))
		}
	}
	project, service, ok := NetnsPeer(svc)
	if !ok {
		return
	}
	peer := Name(project, service)
	u.add("Unit", "BindsTo", peer)
	u.add("Unit", "After", peer)
}

// PodPublishArg is a published port as pod-run's --publish takes it:
// HOSTIP:HOSTPORT:CONTAINERPORT/PROTOCOL, HOSTIP empty for every address.
func PodPublishArg(p model.Port) string {
	proto := p.Protocol
	if proto == "" {
		proto = "tcp"
	}
	return fmt.Sprintf("%s:%d:%d/%s", p.HostIP, p.HostPort, p.ContainerPort, proto)
}

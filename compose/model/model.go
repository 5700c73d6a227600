// Package model is berth's desired-state model: projects and services as
// berth runs them, and the frozen spec files units start from. It depends on
// the standard library alone, so the launcher (cmd/berth-launcher), which
// reads a spec and starts a container, links none of the Compose loader's
// dependencies and pays none of their start-up cost. Package compose loads
// the model from Compose files and re-exports it under its own name.
package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Project is one entry of the config dir: a directory with compose.yaml or a
// single NAME.yaml file.
type Project struct {
	Name string `json:"name"`
	// Dir is the project directory; relative paths resolve against it.
	Dir string `json:"dir"`
	// Files are the files the project was loaded from, for error messages.
	Files []string `json:"files"`
	// Services are sorted in dependency order: a service comes after the
	// services it depends on.
	Services []Service `json:"services"`
	// Warnings name every field that was read but is not supported.
	Warnings []string `json:"-"`

	// Networks are the project's networks by compose name; "default" is
	// always present for compose projects.
	Networks map[string]Network `json:"networks,omitempty"`
	// Volumes are the named volumes the project declares.
	Volumes map[string]Volume `json:"volumes,omitempty"`
	// Pods are set for Kubernetes input, one per workload of the file, in
	// file order: every service is a container of one of them (Service.Pod)
	// and shares its network, IPC and UTS namespaces.
	Pods []*Pod `json:"pods,omitempty"`
}

// Network is one project network (a CNI bridge).
type Network struct {
	// Name is the berth network's name: compose's `name:`, which the
	// loader defaults to "<project>_<key>" (empty means that too).
	Name string `json:"name"`
	// Internal networks have no route out.
	Internal bool `json:"internal,omitempty"`
	// External joins an existing berth network called ExternalName.
	External     bool   `json:"external,omitempty"`
	ExternalName string `json:"external_name,omitempty"`
	// Subnet and Gateway are the first IPv4 ipam.config entry's; an empty
	// Subnet gets a free /24 at apply time.
	Subnet  string `json:"subnet,omitempty"`
	Gateway string `json:"gateway,omitempty"`
	// IPv6 (enable_ipv6) gives members an IPv6 address too: on the first
	// IPv6 pool of More, else on a ULA /64 berth picks at apply time.
	IPv6 bool `json:"enable_ipv6,omitempty"`
	// More are the further ipam.config entries, IPv4 or IPv6, in file order.
	More []Pool `json:"more_subnets,omitempty"`
	// Bridge is the host's bridge device (driver_opts
	// com.docker.network.bridge.name); "" lets berth name it.
	Bridge string `json:"bridge,omitempty"`
	// MTU of the bridge and the containers' interfaces; 0 is the kernel's.
	MTU int `json:"mtu,omitempty"`
	// NoMasquerade (enable_ip_masquerade false): containers reach out with
	// their own addresses.
	NoMasquerade bool `json:"no_masquerade,omitempty"`
	// At is where the network is declared (file:line), for errors naming
	// both sides of a conflict; not part of any hash.
	At string `json:"-"`
}

// Pool is one ipam.config entry: a subnet and its gateway ("" is the
// subnet's first address).
type Pool struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway,omitempty"`
}

// Volume is a named volume; local driver, kept under the state dir.
type Volume struct {
	Name     string `json:"name"`
	External bool   `json:"external,omitempty"`
}

// Pod is the shared sandbox of a Kubernetes pod.
type Pod struct {
	Name string `json:"name"`
	// ID keys the sandbox (its unit, pinned namespaces and address): ""
	// for the only pod of a file, whose key is the project's name (so the
	// units of a one-workload file keep their names and hashes), else
	// PodID(project, Name).
	ID          string     `json:"id,omitempty"`
	Hostname    string     `json:"hostname,omitempty"`
	HostNetwork bool       `json:"host_network,omitempty"`
	DNS         *DNSConfig `json:"dns,omitempty"`
	// Networks are the pod's addresses by berth network name, filled in
	// by apply (network.Prepare): the pod's network namespace is attached
	// once, and its containers share it. Part of the pod unit's hash, so a
	// new address restarts the pod.
	Networks map[string]NetworkAttachment `json:"networks,omitempty"`
	// Ports are the containers' hostPorts, published onto the pod's
	// address (filled in by network.Prepare).
	Ports []Port `json:"ports,omitempty"`
}

// DNSConfig is resolv.conf content a container gets instead of the host's.
type DNSConfig struct {
	Nameservers []string `json:"nameservers,omitempty"`
	Searches    []string `json:"searches,omitempty"`
	Options     []string `json:"options,omitempty"`
}

// PullPolicy says when the launcher pulls a service's image.
type PullPolicy string

// The pull policies berth carries out; compose's refresh policies (daily,
// weekly, every_<duration>) load as PullMissing, auto-update refreshes.
const (
	// PullMissing pulls only when the image is not in the store.
	PullMissing PullPolicy = ""
	// PullAlways pulls at every start, failing when the pull fails.
	PullAlways PullPolicy = "always"
	// PullNever never pulls: the image must be in the store already.
	PullNever PullPolicy = "never"
)

// Service is one container and its unit.
type Service struct {
	Project string `json:"project"`
	Name    string `json:"name"`
	Image   string `json:"image"`
	// PullPolicy is compose's pull_policy as the launcher applies it at
	// every start: PullMissing (""), PullAlways or PullNever.
	PullPolicy PullPolicy `json:"pull_policy,omitempty"`
	// Build, when set, is built into Image before the service (re)starts
	// (PullPolicy is then PullNever: the image is local).
	Build *Build `json:"build,omitempty"`
	// Entrypoint and Command are nil when the image's defaults apply. An
	// empty non-nil slice clears the image's value, as in docker.
	// omitzero, not omitempty: [] must survive the spec's JSON round trip.
	Entrypoint  []string          `json:"entrypoint,omitzero"`
	Command     []string          `json:"command,omitzero"`
	Environment map[string]string `json:"environment,omitempty"`
	WorkingDir  string            `json:"working_dir,omitempty"`
	User        string            `json:"user,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Init        bool              `json:"init,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	Domainname  string            `json:"domainname,omitempty"`
	GroupAdd    []string          `json:"group_add,omitempty"`
	Tty         bool              `json:"tty,omitempty"`
	// ContainerName is compose's container_name; peers resolve it too.
	ContainerName string `json:"container_name,omitempty"`
	// Pod names the pod sandbox (one of Project.Pods) whose network, IPC
	// and UTS namespaces the container joins; its unit is bound to the
	// pod's unit.
	Pod string `json:"pod,omitempty"`
	// PodID is the pod's Pod.ID: "" when the pod is its file's only one.
	PodID string `json:"pod_id,omitempty"`
	// Oneshot services run to completion (Type=oneshot, RemainAfterExit):
	// targets of service_completed_successfully, init containers, Jobs.
	Oneshot bool `json:"oneshot,omitempty"`

	Restart         Restart       `json:"restart"`
	StopSignal      string        `json:"stop_signal,omitempty"`
	StopGracePeriod time.Duration `json:"stop_grace_period,omitempty"`

	Resources Resources `json:"resources"`
	Security  Security  `json:"security"`

	// Storage.
	Mounts []Mount     `json:"mounts,omitempty"`
	Files  []FileMount `json:"files,omitempty"` // secrets and configs
	// EnvFiles are read at start, in order, under Environment: their
	// values stay out of the spec, which holds their hashes.
	EnvFiles []EnvFile `json:"env_files,omitempty"`
	// SecretEnv overlays Environment at start, from credentials.
	SecretEnv []SecretEnvVar `json:"secret_env,omitempty"`
	// RuntimeEnv overlays Environment at start with values only the
	// launcher knows (the Kubernetes downward API's pod and host address,
	// the node name).
	RuntimeEnv []RuntimeEnvVar `json:"runtime_env,omitempty"`
	ReadOnly   bool            `json:"read_only,omitempty"`
	ShmSize    int64           `json:"shm_size,omitempty"`
	Devices    []Device        `json:"devices,omitempty"`

	// NetworkMode is "" (the project networks in Networks), "host", "none",
	// "service:NAME" or "container:NAME" (apply resolves NAME to
	// "container:PROJECT/SERVICE").
	NetworkMode string                       `json:"network_mode,omitempty"`
	Networks    map[string]NetworkAttachment `json:"networks,omitempty"`
	Ports       []Port                       `json:"ports,omitempty"`
	ExtraHosts  []string                     `json:"extra_hosts,omitempty"` // "name:ip"
	DNS         []string                     `json:"dns,omitempty"`
	DNSSearch   []string                     `json:"dns_search,omitempty"`
	// Joiners are the containers (PROJECT/SERVICE) whose network_mode
	// service: or container: names this one, filled in by apply
	// (network.Prepare): its unit Wants= theirs, so that whenever it
	// starts again, systemd's own restarts included, they start again too
	// and enter its new network namespace.
	Joiners []string `json:"joiners,omitempty"`

	// Health is compose's healthcheck or a pod's readiness probe; its
	// status shows in ps and gates service_healthy and notify: healthy.
	Health *Health `json:"health,omitempty"`
	// HealthSource says where Health came from: "" (the file: compose's
	// healthcheck or a pod's probe) or HealthFromImage.
	HealthSource string `json:"health_source,omitempty"`
	// ImageHealth, set by the Compose loader, asks for the image's
	// HEALTHCHECK: the service has no healthcheck, or one without a test
	// that is not disabled. Its non-zero fields override the image's, as
	// docker merges them. It is a request, not what runs, so it is in
	// neither the spec hash nor the frozen spec: before units are built,
	// UseImageHealth turns it into Health from the image's config.
	ImageHealth *Health `json:"-"`
	// PortsAt is where ports are declared (file:line), for errors naming
	// both services of a host port conflict; not part of any hash.
	PortsAt string `json:"-"`
	// Liveness is a probe whose failure restarts the container (Kubernetes).
	Liveness  *Health               `json:"liveness,omitempty"`
	DependsOn map[string]Dependency `json:"depends_on,omitempty"`

	// Notify says when the unit becomes active: NotifyRunning (default),
	// NotifyContainer (the container sends READY=1) or NotifyHealthy.
	Notify  NotifyMode `json:"notify,omitempty"`
	Sockets []Socket   `json:"sockets,omitempty"`
	// Unit holds extra unit properties from x-berth.unit, by unit-file
	// name; units checks them against its allow-list.
	Unit map[string][]string `json:"unit,omitempty"`

	// AutoUpdate is the policy from x-berth.autoupdate or the podman label
	// (registry, local, disabled); "" means the label decides.
	AutoUpdate string `json:"autoupdate,omitempty"`
	// Soak overrides the auto-update soak window for this service.
	Soak time.Duration `json:"soak,omitempty"`
}

// Resources are cgroup limits; zero means unlimited.
type Resources struct {
	MemoryMax         int64 `json:"memory_max,omitempty"`
	MemoryReservation int64 `json:"memory_reservation,omitempty"` // → MemoryLow
	// MemorySwapMax is memswap_limit minus the memory limit: swap bytes on
	// top of memory. 0 = not set, -1 = unlimited, SwapDisabled = no swap
	// (memswap_limit equal to the memory limit).
	MemorySwapMax int64   `json:"memory_swap_max,omitempty"`
	CPUs          float64 `json:"cpus,omitempty"`
	CPUShares     int64   `json:"cpu_shares,omitempty"` // docker shares, 1024 = default
	PidsMax       int64   `json:"pids_max,omitempty"`
}

// SwapDisabled is Resources.MemorySwapMax for "no swap at all" (systemd
// MemorySwapMax=0), kept apart from 0, which means not set.
const SwapDisabled int64 = -2

// Security is the process's privilege settings, docker's defaults when zero.
type Security struct {
	Privileged      bool     `json:"privileged,omitempty"`
	CapAdd          []string `json:"cap_add,omitempty"` // CAP_ prefixed, upper case; "ALL" allowed
	CapDrop         []string `json:"cap_drop,omitempty"`
	NoNewPrivileges bool     `json:"no_new_privileges,omitempty"`
	// Seccomp is "" (docker's default profile), "unconfined", or the
	// absolute path of a profile file.
	Seccomp string            `json:"seccomp,omitempty"`
	Ulimits map[string]Ulimit `json:"ulimits,omitempty"` // "nofile", "nproc" …
	Sysctls map[string]string `json:"sysctls,omitempty"` // namespaced ones only
	// RunAsNonRoot refuses to start when the resolved user is root.
	RunAsNonRoot bool `json:"run_as_non_root,omitempty"`
}

// Ulimit is one rlimit.
type Ulimit struct {
	Soft int64 `json:"soft"`
	Hard int64 `json:"hard"`
}

// MountType is what a Mount's source is.
type MountType string

// The mount types compose and pods use.
const (
	MountBind   MountType = "bind"   // Source is an absolute host path
	MountVolume MountType = "volume" // Source is the volume's full name, kept in <state>/volumes/<name> ("" = anonymous)
	MountTmpfs  MountType = "tmpfs"
)

// Mount is one filesystem mounted into the container.
type Mount struct {
	Type     MountType `json:"type"`
	Source   string    `json:"source,omitempty"`
	Target   string    `json:"target"`
	ReadOnly bool      `json:"read_only,omitempty"`
	SubPath  string    `json:"sub_path,omitempty"`
	// Size and Mode apply to tmpfs (bytes, 0 = unlimited; octal mode).
	Size int64  `json:"size,omitempty"`
	Mode uint32 `json:"mode,omitempty"`
	// ContentHash is the content hash of a bind source under the config
	// dir, so editing a mounted config file changes the spec hash.
	ContentHash string `json:"content_hash,omitempty"`
	// Propagation is a bind mount's propagation (private, rprivate,
	// shared, rshared, slave, rslave); empty is rprivate.
	Propagation string `json:"propagation,omitempty"`
	// FSGroup is a Kubernetes pod's fsGroup for a volume: as the kubelet
	// does, the volume is given to that group (setgid directories, group
	// read-write) before the container starts.
	FSGroup *int `json:"fs_group,omitempty"`
}

// FileMount is a secret or config written into the container.
type FileMount struct {
	Secret bool   `json:"secret,omitempty"` // secrets live on tmpfs, never on disk
	Name   string `json:"name"`
	Target string `json:"target"` // absolute path in the container
	// Content is the file's content. A secret's stays in memory only (see
	// MarshalJSON): its spec says where the launcher reads it at start.
	Content []byte `json:"content"`
	UID     int    `json:"uid"`
	GID     int    `json:"gid"`
	Mode    uint32 `json:"mode"`
	// Source is the host file a secret is re-read from at start.
	Source string `json:"source,omitempty"`
	// Env names the variable an environment secret came from; like an
	// inline or Kubernetes secret, whose source is gone once loaded, its
	// content travels as an encrypted systemd credential (Credential).
	Env string `json:"env,omitempty"`
	// Credential: the content is the unit's credential CredentialName(i),
	// for Files[i].
	Credential bool `json:"credential,omitempty"`
	// ContentHash is a secret's content hash, so a new value changes the
	// spec hash without the value being stored.
	ContentHash string `json:"content_hash,omitempty"`
}

// Device is a host device node given to the container.
type Device struct {
	Source      string `json:"source"`
	Target      string `json:"target"`
	Permissions string `json:"permissions,omitempty"` // "rwm" by default
}

// NetworkAttachment is a service's membership in one project network.
type NetworkAttachment struct {
	Aliases []string `json:"aliases,omitempty"`
	IPv4    string   `json:"ipv4_address,omitempty"`
	// IPv6 is ipv6_address; apply fills in the address on the network's
	// first IPv6 subnet.
	IPv6 string `json:"ipv6_address,omitempty"`
	// More are the addresses on the network's further subnets (filled in
	// by apply).
	More []string `json:"more_addresses,omitempty"`
	// LinkLocal are link_local_ips, added to the interface as they are.
	LinkLocal []string `json:"link_local_ips,omitempty"`
	// Priority orders a service's networks: the highest is its first
	// interface (eth0) and holds its default route; ties go by name.
	Priority int `json:"priority,omitempty"`
	// MAC is the interface's mac_address (lower case, colons); empty
	// derives it from the address.
	MAC string `json:"mac_address,omitempty"`
}

// Port is one published port; ranges are expanded by the loader.
type Port struct {
	HostIP        string `json:"host_ip,omitempty"`
	HostPort      uint16 `json:"host_port"`
	ContainerPort uint16 `json:"container_port"`
	Protocol      string `json:"protocol"` // tcp or udp
}

// Health is a probe run inside the container's namespaces.
type Health struct {
	// Exactly one of Cmd, HTTPGet and TCPPort is set.
	Cmd   []string `json:"cmd,omitempty"`
	Shell bool     `json:"shell,omitempty"` // Cmd is one CMD-SHELL string
	// HTTPGet and TCPPort are Kubernetes probes, run from the container's
	// network namespace against its own address.
	HTTPGet *HTTPProbe `json:"http_get,omitempty"`
	TCPPort int        `json:"tcp_port,omitempty"`

	Interval      time.Duration `json:"interval"`
	Timeout       time.Duration `json:"timeout"`
	Retries       int           `json:"retries"`
	StartPeriod   time.Duration `json:"start_period,omitempty"`
	StartInterval time.Duration `json:"start_interval,omitempty"`
}

// HTTPProbe is a Kubernetes httpGet probe; success is a 2xx or 3xx status.
type HTTPProbe struct {
	Port   int    `json:"port"`
	Path   string `json:"path,omitempty"`
	Scheme string `json:"scheme,omitempty"`
}

// Dependency conditions, as in compose's depends_on.
const (
	ConditionStarted   = "service_started"
	ConditionHealthy   = "service_healthy"
	ConditionCompleted = "service_completed_successfully"
)

// Dependency is one depends_on entry.
type Dependency struct {
	Condition string `json:"condition"`
	Required  bool   `json:"required"`
	// Restart restarts this service when the dependency restarts.
	Restart bool `json:"restart,omitempty"`
}

// NotifyMode is when a service's unit becomes active.
type NotifyMode string

// The notify modes.
const (
	NotifyRunning   NotifyMode = ""          // as soon as the container runs
	NotifyContainer NotifyMode = "container" // the container sends READY=1
	NotifyHealthy   NotifyMode = "healthy"   // the first health check passes
)

// Socket is a listener a .socket unit owns; the container gets it as fd 3+.
type Socket struct {
	// Listen is "[host:]port", "udp:[host:]port" or an absolute unix path.
	Listen string `json:"listen"`
	Accept bool   `json:"accept,omitempty"`
	Name   string `json:"name,omitempty"` // FileDescriptorName
}

// Accepts reports whether svc runs one container per connection (its
// sockets have accept: true, systemd's Accept=yes): a template service
// instantiated by its .socket unit, not one long-running unit.
func (s *Service) Accepts() bool {
	for _, sock := range s.Sockets {
		if sock.Accept {
			return true
		}
	}
	return false
}

// InstanceID is the container ID of one per-connection instance of an
// accepting service: its ID, '+' (no service ID has one) and the first 12
// hex digits of the instance's systemd invocation ID, which both the
// instance's start and its cleanup see as $INVOCATION_ID.
func InstanceID(id, invocation string) (string, error) {
	if len(invocation) < 12 {
		return "", fmt.Errorf("no systemd invocation ID (INVOCATION_ID=%q) to name the per-connection container of %s", invocation, id)
	}
	for _, r := range invocation[:12] {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return "", fmt.Errorf("INVOCATION_ID=%q is not hexadecimal", invocation)
		}
	}
	return id + "+" + invocation[:12], nil
}

// RestartMode is a docker restart policy.
type RestartMode string

// The restart policies docker knows.
const (
	RestartNo            RestartMode = "no"
	RestartAlways        RestartMode = "always"
	RestartOnFailure     RestartMode = "on-failure"
	RestartUnlessStopped RestartMode = "unless-stopped"
)

// Restart is a restart policy with docker's optional retry count.
type Restart struct {
	Mode       RestartMode `json:"mode"`
	MaxRetries int         `json:"max_retries,omitempty"`
}

// Entry is one project entry of the config dir and the result of loading it.
type Entry struct {
	Name string
	Path string
	// Project is nil when Err is set.
	Project *Project
	Err     error
}

// ID names the service's container and the directories berth keeps for it.
func (s *Service) ID() string { return s.Project + "-" + s.Name }

// DefaultStopGracePeriod is docker's.
const DefaultStopGracePeriod = 10 * time.Second

// Hash is the stable spec hash: it changes exactly when the service would run
// differently, so the reconciler can diff without guessing.
func (s *Service) Hash() string {
	b, err := json.Marshal(s) // map keys are sorted by encoding/json
	if err != nil {
		panic("model: service is not serialisable: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// GateHealthy makes every service that another one depends on with
// service_healthy report ready only after its first passing health check
// (Notify becomes NotifyHealthy), so the dependent's After= ordering waits
// for it. A service whose container sends READY=1 itself keeps that mode.
// The loader calls it; it is idempotent.
func (p *Project) GateHealthy() {
	gated := map[string]bool{}
	for _, s := range p.Services {
		for name, d := range s.DependsOn {
			if d.Condition == ConditionHealthy {
				gated[name] = true
			}
		}
	}
	for i := range p.Services {
		s := &p.Services[i]
		if gated[s.Name] && s.Health != nil && s.Notify == NotifyRunning {
			s.Notify = NotifyHealthy
		}
	}
}

// NetworkOrder is the order of a service's networks, as docker connects
// them: highest priority first, then by name. The first is the
// container's eth0 and holds its default route.
func NetworkOrder(nets map[string]NetworkAttachment) []string {
	out := sortedKeys(nets)
	sort.SliceStable(out, func(i, j int) bool { return nets[out[i]].Priority > nets[out[j]].Priority })
	return out
}

// RuntimeField is a value the launcher fills in when the container starts,
// named by its Kubernetes downward-API field path.
type RuntimeField string

// The runtime fields: the pod's address (the host's with hostNetwork),
// the host's primary address, and the host's name.
const (
	FieldPodIP    RuntimeField = "status.podIP"
	FieldHostIP   RuntimeField = "status.hostIP"
	FieldNodeName RuntimeField = "spec.nodeName"
)

// RuntimeEnvVar is one variable set from a RuntimeField at start.
type RuntimeEnvVar struct {
	Name  string       `json:"name"`
	Field RuntimeField `json:"field"`
}

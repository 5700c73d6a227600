package kube

// The Kubernetes objects berth reads and writes, trimmed to the fields it
// maps. Field names and yaml tags are Kubernetes' own (core/v1, apps/v1,
// batch/v1), so generated YAML decodes strictly with k8s.io/api. Every key
// of an input document that has no field here is reported by the loader as
// unsupported, with its line; fields that are here but deliberately ignored
// are listed in ignored.go.

// TypeMeta is apiVersion and kind.
type TypeMeta struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
}

// ObjectMeta is metadata.
type ObjectMeta struct {
	Name        string            `yaml:"name,omitempty"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// Object is the shape of every top-level kind with a spec: apiVersion and
// kind, metadata, spec.
type Object[Spec any] struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta `yaml:"metadata"`
	Spec     Spec       `yaml:"spec"`
}

// Pod is core/v1 Pod.
type Pod = Object[PodSpec]

// PodTemplate is the template of a workload.
type PodTemplate struct {
	Metadata ObjectMeta `yaml:"metadata,omitempty"`
	Spec     PodSpec    `yaml:"spec"`
}

// LabelSelector is a workload's selector; berth runs one pod, so it only
// writes it (Kubernetes requires it).
type LabelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels,omitempty"`
}

// Deployment is apps/v1 Deployment.
type Deployment = Object[DeploymentSpec]

// DeploymentSpec is apps/v1 DeploymentSpec.
type DeploymentSpec struct {
	Replicas *int32         `yaml:"replicas,omitempty"`
	Selector *LabelSelector `yaml:"selector,omitempty"`
	Template PodTemplate    `yaml:"template"`
	Strategy *Strategy      `yaml:"strategy,omitempty"`
}

// Strategy is a deployment strategy; one local replica has no rollout.
type Strategy struct {
	Type string `yaml:"type,omitempty"`
}

// DaemonSet is apps/v1 DaemonSet.
type DaemonSet = Object[DaemonSetSpec]

// DaemonSetSpec is apps/v1 DaemonSetSpec.
type DaemonSetSpec struct {
	Selector *LabelSelector `yaml:"selector,omitempty"`
	Template PodTemplate    `yaml:"template"`
}

// Job is batch/v1 Job.
type Job = Object[JobSpec]

// JobSpec is batch/v1 JobSpec.
type JobSpec struct {
	BackoffLimit *int32      `yaml:"backoffLimit,omitempty"`
	Completions  *int32      `yaml:"completions,omitempty"`
	Parallelism  *int32      `yaml:"parallelism,omitempty"`
	Template     PodTemplate `yaml:"template"`
}

// ConfigMap is core/v1 ConfigMap.
type ConfigMap struct {
	TypeMeta   `yaml:",inline"`
	Metadata   ObjectMeta        `yaml:"metadata"`
	Data       map[string]string `yaml:"data,omitempty"`
	BinaryData map[string]string `yaml:"binaryData,omitempty"`
	Immutable  *bool             `yaml:"immutable,omitempty"`
}

// Secret is core/v1 Secret; Data values are base64.
type Secret struct {
	TypeMeta   `yaml:",inline"`
	Metadata   ObjectMeta        `yaml:"metadata"`
	Type       string            `yaml:"type,omitempty"`
	Data       map[string]string `yaml:"data,omitempty"`
	StringData map[string]string `yaml:"stringData,omitempty"`
	Immutable  *bool             `yaml:"immutable,omitempty"`
}

// PersistentVolumeClaim is core/v1 PersistentVolumeClaim: a named volume.
type PersistentVolumeClaim = Object[PVCSpec]

// PVCSpec is the claim's spec; size and class mean nothing for a local
// named volume, so they are only written.
type PVCSpec struct {
	AccessModes      []string              `yaml:"accessModes,omitempty"`
	Resources        *ResourceRequirements `yaml:"resources,omitempty"`
	StorageClassName *string               `yaml:"storageClassName,omitempty"`
}

// KubeService is core/v1 Service, written by generate --service.
type KubeService = Object[ServiceSpec]

// ServiceSpec is core/v1 ServiceSpec.
type ServiceSpec struct {
	Type     string            `yaml:"type,omitempty"`
	Selector map[string]string `yaml:"selector,omitempty"`
	Ports    []ServicePort     `yaml:"ports,omitempty"`
}

// ServicePort is core/v1 ServicePort.
type ServicePort struct {
	Name       string `yaml:"name,omitempty"`
	Protocol   string `yaml:"protocol,omitempty"`
	Port       int32  `yaml:"port"`
	TargetPort int32  `yaml:"targetPort,omitempty"`
}

// PodSpec is core/v1 PodSpec.
type PodSpec struct {
	InitContainers                []Container         `yaml:"initContainers,omitempty"`
	Containers                    []Container         `yaml:"containers"`
	Volumes                       []Volume            `yaml:"volumes,omitempty"`
	RestartPolicy                 string              `yaml:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds *int64              `yaml:"terminationGracePeriodSeconds,omitempty"`
	HostNetwork                   bool                `yaml:"hostNetwork,omitempty"`
	Hostname                      string              `yaml:"hostname,omitempty"`
	Subdomain                     string              `yaml:"subdomain,omitempty"`
	DNSPolicy                     string              `yaml:"dnsPolicy,omitempty"`
	DNSConfig                     *PodDNSConfig       `yaml:"dnsConfig,omitempty"`
	HostAliases                   []HostAlias         `yaml:"hostAliases,omitempty"`
	SecurityContext               *PodSecurityContext `yaml:"securityContext,omitempty"`
	EnableServiceLinks            *bool               `yaml:"enableServiceLinks,omitempty"`
	// ServiceAccountName is only read by the downward API: a single host
	// has no API server to hand the account's token to.
	ServiceAccountName string `yaml:"serviceAccountName,omitempty"`
	ServiceAccount     string `yaml:"serviceAccount,omitempty"` // deprecated alias
}

// PodDNSConfig is core/v1 PodDNSConfig.
type PodDNSConfig struct {
	Nameservers []string          `yaml:"nameservers,omitempty"`
	Searches    []string          `yaml:"searches,omitempty"`
	Options     []PodDNSConfigOpt `yaml:"options,omitempty"`
}

// PodDNSConfigOpt is one resolv.conf option.
type PodDNSConfigOpt struct {
	Name  string  `yaml:"name"`
	Value *string `yaml:"value,omitempty"`
}

// HostAlias is an /etc/hosts entry.
type HostAlias struct {
	IP        string   `yaml:"ip"`
	Hostnames []string `yaml:"hostnames,omitempty"`
}

// PodSecurityContext is core/v1 PodSecurityContext.
type PodSecurityContext struct {
	RunAsUser          *int64          `yaml:"runAsUser,omitempty"`
	RunAsGroup         *int64          `yaml:"runAsGroup,omitempty"`
	RunAsNonRoot       *bool           `yaml:"runAsNonRoot,omitempty"`
	FSGroup            *int64          `yaml:"fsGroup,omitempty"`
	SupplementalGroups []int64         `yaml:"supplementalGroups,omitempty"`
	Sysctls            []Sysctl        `yaml:"sysctls,omitempty"`
	SeccompProfile     *SeccompProfile `yaml:"seccompProfile,omitempty"`
}

// Sysctl is one namespaced kernel parameter.
type Sysctl struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// SeccompProfile selects a seccomp profile.
type SeccompProfile struct {
	Type             string `yaml:"type"`
	LocalhostProfile string `yaml:"localhostProfile,omitempty"`
}

// Container is core/v1 Container.
type Container struct {
	Name            string                `yaml:"name"`
	Image           string                `yaml:"image"`
	Command         []string              `yaml:"command,omitempty"`
	Args            []string              `yaml:"args,omitempty"`
	WorkingDir      string                `yaml:"workingDir,omitempty"`
	Ports           []ContainerPort       `yaml:"ports,omitempty"`
	EnvFrom         []EnvFromSource       `yaml:"envFrom,omitempty"`
	Env             []EnvVar              `yaml:"env,omitempty"`
	Resources       *ResourceRequirements `yaml:"resources,omitempty"`
	VolumeMounts    []VolumeMount         `yaml:"volumeMounts,omitempty"`
	LivenessProbe   *Probe                `yaml:"livenessProbe,omitempty"`
	ReadinessProbe  *Probe                `yaml:"readinessProbe,omitempty"`
	StartupProbe    *Probe                `yaml:"startupProbe,omitempty"`
	RestartPolicy   string                `yaml:"restartPolicy,omitempty"` // init sidecars: Always
	ImagePullPolicy string                `yaml:"imagePullPolicy,omitempty"`
	SecurityContext *SecurityContext      `yaml:"securityContext,omitempty"`
	Stdin           bool                  `yaml:"stdin,omitempty"`
	TTY             bool                  `yaml:"tty,omitempty"`
}

// ContainerPort is core/v1 ContainerPort.
type ContainerPort struct {
	Name          string `yaml:"name,omitempty"`
	HostPort      int32  `yaml:"hostPort,omitempty"`
	ContainerPort int32  `yaml:"containerPort"`
	Protocol      string `yaml:"protocol,omitempty"`
	HostIP        string `yaml:"hostIP,omitempty"`
}

// EnvFromSource is core/v1 EnvFromSource.
type EnvFromSource struct {
	Prefix       string       `yaml:"prefix,omitempty"`
	ConfigMapRef *LocalObjRef `yaml:"configMapRef,omitempty"`
	SecretRef    *LocalObjRef `yaml:"secretRef,omitempty"`
}

// LocalObjRef names a ConfigMap or Secret of the same namespace.
type LocalObjRef struct {
	Name     string `yaml:"name"`
	Optional *bool  `yaml:"optional,omitempty"`
}

// EnvVar is core/v1 EnvVar.
type EnvVar struct {
	Name      string        `yaml:"name"`
	Value     string        `yaml:"value,omitempty"`
	ValueFrom *EnvVarSource `yaml:"valueFrom,omitempty"`
}

// EnvVarSource is core/v1 EnvVarSource.
type EnvVarSource struct {
	FieldRef         *FieldRef         `yaml:"fieldRef,omitempty"`
	ResourceFieldRef *ResourceFieldRef `yaml:"resourceFieldRef,omitempty"`
	ConfigMapKeyRef  *KeySelect        `yaml:"configMapKeyRef,omitempty"`
	SecretKeyRef     *KeySelect        `yaml:"secretKeyRef,omitempty"`
}

// ResourceFieldRef is a downward-API resource: a container's limit or
// request, divided by Divisor.
type ResourceFieldRef struct {
	ContainerName string `yaml:"containerName,omitempty"`
	Resource      string `yaml:"resource"`
	Divisor       string `yaml:"divisor,omitempty"`
}

// FieldRef is a downward-API field.
type FieldRef struct {
	APIVersion string `yaml:"apiVersion,omitempty"`
	FieldPath  string `yaml:"fieldPath"`
}

// KeySelect selects one key of a ConfigMap or Secret.
type KeySelect struct {
	Name     string `yaml:"name"`
	Key      string `yaml:"key"`
	Optional *bool  `yaml:"optional,omitempty"`
}

// ResourceRequirements holds quantities such as cpu "500m", memory "64Mi".
type ResourceRequirements struct {
	Limits   map[string]string `yaml:"limits,omitempty"`
	Requests map[string]string `yaml:"requests,omitempty"`
}

// VolumeMount is core/v1 VolumeMount.
type VolumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath,omitempty"`
	ReadOnly  bool   `yaml:"readOnly,omitempty"`
}

// Volume is core/v1 Volume; exactly one source is set.
type Volume struct {
	Name                  string             `yaml:"name"`
	HostPath              *HostPathSource    `yaml:"hostPath,omitempty"`
	EmptyDir              *EmptyDirSource    `yaml:"emptyDir,omitempty"`
	ConfigMap             *ConfigMapSource   `yaml:"configMap,omitempty"`
	Secret                *SecretSource      `yaml:"secret,omitempty"`
	PersistentVolumeClaim *PVCSource         `yaml:"persistentVolumeClaim,omitempty"`
	DownwardAPI           *DownwardAPISource `yaml:"downwardAPI,omitempty"`
}

// DownwardAPISource writes the pod's metadata and containers' resources
// as files.
type DownwardAPISource struct {
	Items       []DownwardAPIFile `yaml:"items,omitempty"`
	DefaultMode *int32            `yaml:"defaultMode,omitempty"`
}

// DownwardAPIFile is one file of a downwardAPI volume.
type DownwardAPIFile struct {
	Path             string            `yaml:"path"`
	FieldRef         *FieldRef         `yaml:"fieldRef,omitempty"`
	ResourceFieldRef *ResourceFieldRef `yaml:"resourceFieldRef,omitempty"`
	Mode             *int32            `yaml:"mode,omitempty"`
}

// HostPathSource is a host directory or file.
type HostPathSource struct {
	Path string `yaml:"path"`
	Type string `yaml:"type,omitempty"`
}

// EmptyDirSource is a scratch directory of the pod.
type EmptyDirSource struct {
	Medium    string `yaml:"medium,omitempty"`
	SizeLimit string `yaml:"sizeLimit,omitempty"`
}

// KeyToPath maps one key to a relative file path.
type KeyToPath struct {
	Key  string `yaml:"key"`
	Path string `yaml:"path"`
	Mode *int32 `yaml:"mode,omitempty"`
}

// Projection is what ConfigMap and Secret volumes share: which keys become
// which files (all keys when Items is empty), their mode, and whether the
// object may be missing.
type Projection struct {
	Items       []KeyToPath `yaml:"items,omitempty"`
	DefaultMode *int32      `yaml:"defaultMode,omitempty"`
	Optional    *bool       `yaml:"optional,omitempty"`
}

// ConfigMapSource projects a ConfigMap's keys as files.
type ConfigMapSource struct {
	Name       string `yaml:"name"`
	Projection `yaml:",inline"`
}

// SecretSource projects a Secret's keys as files.
type SecretSource struct {
	SecretName string `yaml:"secretName"`
	Projection `yaml:",inline"`
}

// PVCSource mounts a claim, i.e. a named volume.
type PVCSource struct {
	ClaimName string `yaml:"claimName"`
	ReadOnly  bool   `yaml:"readOnly,omitempty"`
}

// Probe is core/v1 Probe.
type Probe struct {
	Exec                *ExecAction      `yaml:"exec,omitempty"`
	HTTPGet             *HTTPGetAction   `yaml:"httpGet,omitempty"`
	TCPSocket           *TCPSocketAction `yaml:"tcpSocket,omitempty"`
	InitialDelaySeconds int32            `yaml:"initialDelaySeconds,omitempty"`
	TimeoutSeconds      int32            `yaml:"timeoutSeconds,omitempty"`
	PeriodSeconds       int32            `yaml:"periodSeconds,omitempty"`
	SuccessThreshold    int32            `yaml:"successThreshold,omitempty"`
	FailureThreshold    int32            `yaml:"failureThreshold,omitempty"`
}

// ExecAction runs a command in the container.
type ExecAction struct {
	Command []string `yaml:"command,omitempty"`
}

// HTTPGetAction probes an HTTP endpoint; Port is a number or a port name.
type HTTPGetAction struct {
	Path   string    `yaml:"path,omitempty"`
	Port   IntOrName `yaml:"port"`
	Host   string    `yaml:"host,omitempty"`
	Scheme string    `yaml:"scheme,omitempty"`
}

// TCPSocketAction probes a TCP port.
type TCPSocketAction struct {
	Port IntOrName `yaml:"port"`
	Host string    `yaml:"host,omitempty"`
}

// SecurityContext is core/v1 SecurityContext.
type SecurityContext struct {
	Capabilities             *Capabilities   `yaml:"capabilities,omitempty"`
	Privileged               *bool           `yaml:"privileged,omitempty"`
	RunAsUser                *int64          `yaml:"runAsUser,omitempty"`
	RunAsGroup               *int64          `yaml:"runAsGroup,omitempty"`
	RunAsNonRoot             *bool           `yaml:"runAsNonRoot,omitempty"`
	ReadOnlyRootFilesystem   *bool           `yaml:"readOnlyRootFilesystem,omitempty"`
	AllowPrivilegeEscalation *bool           `yaml:"allowPrivilegeEscalation,omitempty"`
	SeccompProfile           *SeccompProfile `yaml:"seccompProfile,omitempty"`
}

// Capabilities are added and dropped capability names, without CAP_.
type Capabilities struct {
	Add  []string `yaml:"add,omitempty"`
	Drop []string `yaml:"drop,omitempty"`
}

// Package compose loads berth's desired-state model (package model,
// re-exported here) from Compose files. Nothing outside this package sees
// compose-go types.
package compose

import "github.com/berth-dev/berth/compose/model"

// The desired-state model lives in package model, which the launcher can
// link without compose-go; these names keep it package compose's own for
// everything else.

type (
	Project           = model.Project
	Network           = model.Network
	Volume            = model.Volume
	Pod               = model.Pod
	DNSConfig         = model.DNSConfig
	Service           = model.Service
	Resources         = model.Resources
	Security          = model.Security
	Ulimit            = model.Ulimit
	MountType         = model.MountType
	Mount             = model.Mount
	FileMount         = model.FileMount
	Device            = model.Device
	NetworkAttachment = model.NetworkAttachment
	Port              = model.Port
	Health            = model.Health
	HTTPProbe         = model.HTTPProbe
	Dependency        = model.Dependency
	NotifyMode        = model.NotifyMode
	Socket            = model.Socket
	RestartMode       = model.RestartMode
	Restart           = model.Restart
	Entry             = model.Entry
	PullPolicy        = model.PullPolicy
)

const (
	PullMissing            = model.PullMissing
	PullAlways             = model.PullAlways
	PullNever              = model.PullNever
	MountBind              = model.MountBind
	MountVolume            = model.MountVolume
	MountTmpfs             = model.MountTmpfs
	ConditionStarted       = model.ConditionStarted
	ConditionHealthy       = model.ConditionHealthy
	ConditionCompleted     = model.ConditionCompleted
	NotifyRunning          = model.NotifyRunning
	NotifyContainer        = model.NotifyContainer
	NotifyHealthy          = model.NotifyHealthy
	HealthFromImage        = model.HealthFromImage
	RestartNo              = model.RestartNo
	RestartAlways          = model.RestartAlways
	RestartOnFailure       = model.RestartOnFailure
	RestartUnlessStopped   = model.RestartUnlessStopped
	SwapDisabled           = model.SwapDisabled
	DefaultStopGracePeriod = model.DefaultStopGracePeriod
)

// SpecPath is [model.SpecPath].
func SpecPath(stateDir string, svc *Service) (string, error) { return model.SpecPath(stateDir, svc) }

// SpecPathOf is [model.SpecPathOf].
func SpecPathOf(stateDir, project, service, hash string) (string, error) {
	return model.SpecPathOf(stateDir, project, service, hash)
}

// SpecFiles is [model.SpecFiles].
func SpecFiles(stateDir, id string) ([]string, error) { return model.SpecFiles(stateDir, id) }

// SaveSpec is [model.SaveSpec].
func SaveSpec(stateDir string, svc *Service) (string, error) { return model.SaveSpec(stateDir, svc) }

// LoadSpec is [model.LoadSpec].
func LoadSpec(path string) (*Service, error) { return model.LoadSpec(path) }

// CheckID is [model.CheckID].
func CheckID(project, service string) error { return model.CheckID(project, service) }

// Path is [model.Path].
func Path(dir string, elems ...string) (string, error) { return model.Path(dir, elems...) }

package units

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/compose"
)

// Config says how units call berth.
type Config struct {
	// Binary is the absolute path of the berth binary the units run.
	Binary string
	// ConfigDir, StateDir and RunDir are passed to berth run/cleanup when
	// they differ from the defaults, so a unit works without the caller's
	// environment.
	ConfigDir, StateDir, RunDir string
}

// Environment keys berth reads back from its units.
const (
	EnvHash    = "BERTH_SPEC_HASH"
	EnvProject = "BERTH_PROJECT"
	EnvService = "BERTH_SERVICE"
	EnvImage   = "BERTH_IMAGE"
)

// Service builds the unit that runs svc, whose frozen spec is at specPath.
func Service(cfg Config, svc *compose.Service, specPath string) *Unit {
	u := &Unit{Name: Name(svc.Project, svc.Name)}
	u.add("Unit", "Description", fmt.Sprintf("berth %s/%s (%s)", svc.Project, svc.Name, svc.Image))

	// forking: berth run starts the container, writes its PID 1 to
	// PIDFile= and exits once it runs; the container, now reparented to
	// systemd, is the main process. (Type=notify with MAINPID= made it an
	// "alien" main PID that systemd SIGKILLs at stop instead of sending
	// KillSignal and waiting TimeoutStopSec.)
	u.add("Service", "Type", "forking")
	u.add("Service", "PIDFile", cfg.pidFile(svc.ID()))
	u.add("Service", "ExecStart", cfg.command("run", "--spec", specPath, svc.ID()))
	// cleanup runs after every stop, crash and failed start, so mounts,
	// libcontainer state and cgroups never outlive the container.
	u.add("Service", "ExecStopPost", cfg.command("cleanup", svc.ID()))
	u.add("Service", "SyslogIdentifier", svc.Project+"-"+svc.Name)
	u.add("Service", "Environment", EnvHash+"="+svc.Hash())
	u.add("Service", "Environment", EnvProject+"="+svc.Project)
	u.add("Service", "Environment", EnvService+"="+svc.Name)
	u.add("Service", "Environment", EnvImage+"="+svc.Image)
	if cfg.ConfigDir != "" {
		u.add("Service", "Environment", "BERTH_CONFIG_DIR="+cfg.ConfigDir)
	}
	if cfg.StateDir != "" {
		u.add("Service", "Environment", "BERTH_STATE_DIR="+cfg.StateDir)
	}
	if cfg.RunDir != "" {
		u.add("Service", "Environment", "BERTH_RUN_DIR="+cfg.RunDir)
	}
	// Delegate: libcontainer creates the container's cgroup below the
	// unit's; systemd must leave that subtree alone.
	u.add("Service", "Delegate", "yes")
	// mixed: SIGTERM (or stop_signal) reaches only the container's PID 1,
	// as with docker stop; after the grace period everything is SIGKILLed.
	u.add("Service", "KillMode", "mixed")
	u.add("Service", "KillSignal", stopSignal(svc.StopSignal))
	u.add("Service", "TimeoutStopSec", seconds(svc.StopGracePeriod))
	// Pulling an image may take a while on first start.
	u.add("Service", "TimeoutStartSec", "5min")
	restart(u, svc.Restart)
	resources(u, svc.Resources)
	return u
}

// pidFile mirrors runtime.PIDFile: <run dir>/containers/<id>/pid.
func (c Config) pidFile(id string) string {
	run := c.RunDir
	if run == "" {
		run = DefaultRunDir
	}
	return run + "/containers/" + id + "/pid"
}

// DefaultRunDir is berth's run dir when Config.RunDir is empty.
const DefaultRunDir = "/run/berth"

func (c Config) command(args ...string) string {
	return c.Binary + " " + strings.Join(args, " ")
}

// restart maps docker's policies. systemd's Restart=always also restarts
// after a clean exit, which is docker's always; unless-stopped differs from
// always only across daemon restarts, which systemd units do not have.
func restart(u *Unit, r compose.Restart) {
	switch r.Mode {
	case compose.RestartAlways, compose.RestartUnlessStopped:
		u.add("Service", "Restart", "always")
	case compose.RestartOnFailure:
		u.add("Service", "Restart", "on-failure")
		if r.MaxRetries > 0 {
			// N retries: the first start plus N restarts within the window.
			u.add("Unit", "StartLimitIntervalSec", "infinity")
			u.add("Unit", "StartLimitBurst", strconv.Itoa(r.MaxRetries+1))
		}
	default:
		u.add("Service", "Restart", "no")
	}
	if r.Mode != compose.RestartNo && r.Mode != "" && r.MaxRetries == 0 {
		// docker keeps restarting forever; systemd's default start limit
		// would give up after 5 quick failures.
		u.add("Unit", "StartLimitIntervalSec", "0")
	}
	u.add("Service", "RestartSec", "100ms")
}

func resources(u *Unit, r compose.Resources) {
	if r.MemoryMax > 0 {
		u.add("Service", "MemoryMax", strconv.FormatInt(r.MemoryMax, 10))
	}
	if r.CPUs > 0 {
		u.add("Service", "CPUQuota", strconv.Itoa(int(r.CPUs*100+0.5))+"%")
	}
	if r.PidsMax > 0 {
		u.add("Service", "TasksMax", strconv.FormatInt(r.PidsMax, 10))
	}
}

func stopSignal(s string) string {
	if s == "" {
		return "SIGTERM"
	}
	s = strings.ToUpper(s)
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	return s
}

func seconds(d time.Duration) string {
	if d <= 0 {
		d = compose.DefaultStopGracePeriod
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

package units

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"
)

// Config says how units call berth.
type Config struct {
	// Binary is the absolute path of the berth binary the units run.
	Binary string
	// Launcher is the absolute path of berth-launcher, which starts, stops
	// and cleans up containers and pods (run, stop-container, cleanup,
	// pod-run, pod-cleanup) without paying for berth's Compose loader at
	// every start; empty means Binary does that too.
	Launcher string
	// ConfigDir, StateDir and RunDir are passed to berth run/cleanup when
	// they differ from the defaults, so a unit works without the caller's
	// environment.
	ConfigDir, StateDir, RunDir string
	// UnitFile marks units written to disk by `generate systemd`
	// (Environment=BERTH_UNIT_FILE=1): apply and the agent own only the
	// transient units they made and never prune these.
	UnitFile bool
}

// Environment keys berth reads back from its units.
const (
	EnvHash     = "BERTH_SPEC_HASH"
	EnvProject  = "BERTH_PROJECT"
	EnvService  = "BERTH_SERVICE"
	EnvImage    = "BERTH_IMAGE"
	EnvUnitFile = "BERTH_UNIT_FILE"
)

// Service builds the unit that runs svc, whose frozen spec is at specPath.
// It is the service unit alone, without the x-berth unit escape hatch and
// without companion units; [Build] gives the full set and checks the input.
func Service(cfg Config, svc *model.Service, specPath string) *Unit {
	u := &Unit{Name: Name(svc.Project, svc.Name)}
	u.add("Unit", "Description", printf(fmt.Sprintf("berth %s/%s (%s)", svc.Project, svc.Name, svc.Image)))
	dependencies(u, svc)
	if hasHealth(svc) {
		// The timer runs the health checks while the container runs; it is
		// bound to this unit, which pulls it in.
		u.add("Unit", "Wants", HealthTimerName(svc.Project, svc.Name))
	}

	if svc.Oneshot {
		// A job: berth run --wait runs the container to completion and
		// exits with its status; RemainAfterExit keeps the unit active so
		// dependents ordered After= it see "completed successfully".
		u.add("Service", "Type", "oneshot")
		u.add("Service", "RemainAfterExit", "yes")
		u.add("Service", "ExecStart", cfg.launch("run", "--wait", "--spec", specPath, "--", svc.ID()))
	} else {
		// forking: berth run starts the container, writes its PID 1 to
		// PIDFile= and exits once it is ready; the container, now
		// reparented to systemd, is the main process. (Type=notify with
		// MAINPID= made it an "alien" main PID that systemd SIGKILLs at
		// stop instead of sending KillSignal and waiting TimeoutStopSec.)
		u.add("Service", "Type", "forking")
		u.add("Service", "PIDFile", printf(cfg.pidFile(svc.ID())))
		u.add("Service", "ExecStart", cfg.launch("run", "--spec", specPath, "--", svc.ID()))
	}
	// cleanup runs after every stop, crash and failed start, so mounts,
	// libcontainer state and cgroups never outlive the container.
	u.add("Service", "ExecStopPost", cfg.launch("cleanup", "--", svc.ID()))
	// Secrets with no source to re-read at start are kept encrypted next
	// to the spec; systemd decrypts them into $CREDENTIALS_DIRECTORY for
	// the launcher, so their values are never on disk in the clear.
	for _, c := range svc.Credentials() {
		u.add("Service", "LoadCredentialEncrypted", printf(c.Name+":"+model.CredentialFile(specPath, c.Name)))
	}
	u.add("Service", "SyslogIdentifier", printf(svc.Project+"-"+svc.Name))
	identity(u, "Service", svc)
	cfg.markUnitFile(u)
	cfg.dirs(u)
	// Delegate: libcontainer creates the container's cgroup below the
	// unit's; systemd must leave that subtree alone.
	u.add("Service", "Delegate", "yes")
	// mixed: SIGTERM (or stop_signal) reaches only the main process, as
	// with docker stop; after the grace period everything is SIGKILLed.
	u.add("Service", "KillMode", "mixed")
	u.add("Service", "KillSignal", stopSignal(svc.StopSignal))
	if svc.Oneshot {
		u.add("Service", "TimeoutStopSec", seconds(svc.StopGracePeriod))
	} else {
		// The grace period is ExecStop='s (stop signal, SIGKILL after
		// stop_grace_period), not TimeoutStopSec='s: systemd gives
		// ExecStopPost= the same TimeoutStopSec= budget and kills it when
		// it runs out, and berth cleanup cut short (CNI DEL under load, a
		// 1 s grace period) left firewall rules behind. So TimeoutStopSec=
		// is the grace period plus a cleanup budget, as podman's units do.
		u.add("Service", "ExecStop", cfg.launch("stop-container", "--signal", stopSignal(svc.StopSignal), "--grace", seconds(svc.StopGracePeriod)+"s"))
		u.add("Service", "TimeoutStopSec", seconds(grace(svc.StopGracePeriod)+CleanupBudget))
	}
	if svc.Oneshot {
		// A job runs as long as it needs; its start job is the whole run.
		u.add("Service", "TimeoutStartSec", "infinity")
	} else {
		// Pulling an image may take a while on first start; so may the wait
		// for READY=1 or the first passing health check.
		u.add("Service", "TimeoutStartSec", "5min") // DefaultStartTimeout
	}
	if svc.Notify == model.NotifyContainer {
		// After READY=1 the launcher exits and the container's socket is
		// linked to systemd's own: later STATUS= and WATCHDOG=1 come from a
		// process in the unit's cgroup that is not the main PID.
		u.add("Service", "NotifyAccess", "all")
	}
	restart(u, svc.Restart, svc.Oneshot)
	resources(u, svc.Resources)
	podMember(u, svc)
	netnsPeer(u, svc)
	return u
}

// dirs passes non-default directories on to the commands a unit runs.
func (c Config) dirs(u *Unit) {
	if c.ConfigDir != "" {
		u.add("Service", "Environment", envLine("BERTH_CONFIG_DIR", c.ConfigDir))
	}
	if c.StateDir != "" {
		u.add("Service", "Environment", envLine("BERTH_STATE_DIR", c.StateDir))
	}
	if c.RunDir != "" {
		u.add("Service", "Environment", envLine("BERTH_RUN_DIR", c.RunDir))
	}
}

// pidFile is the launcher's PID file for id (paths.PIDFile). IDs passed
// model.CheckID at load; one that did not gets no path, and the launcher
// refuses it as well.
func (c Config) pidFile(id string) string {
	p, _ := paths.New("", "", c.RunDir).PIDFile(id)
	return p
}

// command is a command line of berth, in unit-file syntax (execLine).
// Callers put "--" before positional arguments, so that no value from the
// model can be read as a flag.
func (c Config) command(args ...string) string {
	return execLine(append([]string{c.Binary}, args...)...)
}

// launch is a command line of the launcher (see Config.Launcher).
func (c Config) launch(args ...string) string {
	if c.Launcher == "" {
		return c.command(args...)
	}
	return execLine(append([]string{c.Launcher}, args...)...)
}

// restart maps docker's policies. systemd's Restart=always also restarts
// after a clean exit, which is docker's always; unless-stopped differs from
// always only across daemon restarts, which systemd units do not have.
// systemd refuses Restart=always for Type=oneshot, so a job restarts on
// failure at most.
func restart(u *Unit, r model.Restart, oneshot bool) {
	mode := r.Mode
	if oneshot && (mode == model.RestartAlways || mode == model.RestartUnlessStopped) {
		mode = model.RestartOnFailure
	}
	switch mode {
	case model.RestartAlways, model.RestartUnlessStopped:
		u.add("Service", "Restart", "always")
	case model.RestartOnFailure:
		u.add("Service", "Restart", "on-failure")
		if r.MaxRetries > 0 {
			// N retries: the first start plus N restarts within the window.
			u.add("Unit", "StartLimitIntervalSec", "infinity")
			u.add("Unit", "StartLimitBurst", strconv.Itoa(r.MaxRetries+1))
		}
	default:
		u.add("Service", "Restart", "no")
	}
	if mode != model.RestartNo && mode != "" && r.MaxRetries == 0 {
		// docker keeps restarting forever; systemd's default start limit
		// would give up after 5 quick failures.
		u.add("Unit", "StartLimitIntervalSec", "0")
	}
	u.add("Service", "RestartSec", "100ms")
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

// CleanupBudget is what TimeoutStopSec= grants ExecStopPost= (berth
// cleanup) on top of the stop grace period.
const CleanupBudget = 60 * time.Second

func grace(d time.Duration) time.Duration {
	if d <= 0 {
		return model.DefaultStopGracePeriod
	}
	return d
}

func seconds(d time.Duration) string {
	if d <= 0 {
		d = model.DefaultStopGracePeriod
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// markUnitFile tags a unit that `generate systemd` writes to disk.
func (cfg Config) markUnitFile(u *Unit) {
	if cfg.UnitFile {
		u.add("Service", "Environment", envLine(EnvUnitFile, "1"))
	}
}

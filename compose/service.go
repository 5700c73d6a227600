package compose

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/compose/model"

	"github.com/compose-spec/compose-go/v2/types"
)

// service converts one compose-go service. Every problem in it is returned
// at once, each naming file, line, service and field.
func (l *loader) service(sc types.ServiceConfig, p *model.Project) (model.Service, error) {
	c := svcAt{ps: l.pos, name: sc.Name, l: l}
	s := model.Service{Project: p.Name, Name: sc.Name, Image: sc.Image}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := model.CheckID(p.Name, sc.Name); err != nil {
		add(fmt.Errorf("%s: service %q: %w", c.at(), sc.Name, err))
	}
	if sc.Image != "" {
		if err := CheckImage(sc.Image); err != nil {
			add(c.errorf([]string{"image"}, "%v", err))
		}
	}
	add(pullPolicy(c, sc.PullPolicy, &s))
	add(l.build(c, sc, &s))
	add(platform(c, sc.Platform, l.opts))
	add(l.process(c, sc, &s))
	add(l.restart(c, sc, &s))
	add(l.storage(c, sc, p, &s))
	add(l.fileMounts(c, sc, &s))
	add(l.resources(c, sc, &s))
	add(l.security(c, sc, &s))
	add(l.network(c, sc, p, &s))
	add(l.health(c, sc, &s))
	add(l.dependsOn(c, sc, &s))
	add(l.xberth(c, sc, &s))
	return s, errors.Join(errs...)
}

// process fills what the container's process sees.
func (l *loader) process(c svcAt, sc types.ServiceConfig, s *model.Service) error {
	if sc.Entrypoint != nil {
		s.Entrypoint = append([]string{}, sc.Entrypoint...)
	}
	if sc.Command != nil {
		s.Command = append([]string{}, sc.Command...)
	}
	// compose-go has merged env_file into environment, file order first.
	for k, v := range sc.Environment {
		if v == nil {
			continue // a bare NAME not set anywhere: docker compose drops it too
		}
		if s.Environment == nil {
			s.Environment = map[string]string{}
		}
		s.Environment[k] = *v
	}
	if err := l.envFiles(c, sc, s); err != nil {
		return err
	}
	s.WorkingDir = sc.WorkingDir
	s.User = sc.User
	if len(sc.GroupAdd) > 0 {
		s.GroupAdd = append([]string{}, sc.GroupAdd...)
	}
	s.Hostname = sc.Hostname
	s.Domainname = sc.DomainName
	if sc.Init != nil {
		s.Init = *sc.Init
	}
	s.Tty = sc.Tty
	if sc.StdinOpen {
		c.warnf([]string{"stdin_open"}, "is ignored; a berth container's stdin is /dev/null")
	}
	s.ContainerName = sc.ContainerName
	for k, v := range sc.Labels {
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[k] = v
	}
	s.StopSignal = sc.StopSignal
	if s.StopSignal != "" && !validSignal(s.StopSignal) {
		return c.errorf([]string{"stop_signal"}, "%q is not a signal (e.g. SIGTERM, SIGINT, SIGQUIT, SIGRTMIN+3)", s.StopSignal)
	}
	s.StopGracePeriod = model.DefaultStopGracePeriod
	if sc.StopGracePeriod != nil {
		s.StopGracePeriod = time.Duration(*sc.StopGracePeriod)
	}
	driver := sc.LogDriver
	field := "log_driver"
	if sc.Logging != nil && sc.Logging.Driver != "" {
		driver, field = sc.Logging.Driver, "logging"
	}
	if driver != "" && driver != "journald" {
		c.warnf([]string{field}, "driver %q is ignored; berth sends the container's output to journald", driver)
	}
	if sc.Deploy != nil {
		switch sc.Deploy.Mode {
		case "", "replicated", "global": // one host: one container either way
		default:
			c.warnf([]string{"deploy", "mode"}, "%q is not supported; berth runs one long-running container", sc.Deploy.Mode)
		}
	}
	if sc.Deploy != nil && sc.Deploy.Replicas != nil && *sc.Deploy.Replicas > 1 {
		c.warnf([]string{"deploy", "replicas"}, "%d replicas are not supported; berth runs one container", *sc.Deploy.Replicas)
	}
	return nil
}

// restart maps `restart:` and deploy.restart_policy; the deploy form wins,
// as in docker compose.
func (l *loader) restart(c svcAt, sc types.ServiceConfig, s *model.Service) error {
	var err error
	if s.Restart, err = ParseRestart(sc.Restart); err != nil {
		return c.errorf([]string{"restart"}, "%v", err)
	}
	if sc.Deploy == nil || sc.Deploy.RestartPolicy == nil {
		return nil
	}
	rp := sc.Deploy.RestartPolicy
	switch rp.Condition {
	case "none":
		s.Restart = model.Restart{Mode: model.RestartNo}
	case "on-failure":
		s.Restart = model.Restart{Mode: model.RestartOnFailure}
		if rp.MaxAttempts != nil {
			s.Restart.MaxRetries = int(*rp.MaxAttempts)
		}
	case "any", "":
		s.Restart = model.Restart{Mode: model.RestartAlways}
		if rp.MaxAttempts != nil {
			c.warnf([]string{"deploy", "restart_policy", "max_attempts"}, "only applies to condition on-failure and is ignored")
		}
	default:
		return c.errorf([]string{"deploy", "restart_policy", "condition"}, "unknown condition %q (valid: none, on-failure, any)", rp.Condition)
	}
	return nil
}

// ParseRestart parses docker's restart policy syntax ("on-failure:3").
func ParseRestart(v string) (model.Restart, error) {
	mode, count, hasCount := strings.Cut(v, ":")
	r := model.Restart{Mode: model.RestartMode(mode)}
	switch r.Mode {
	case "":
		r.Mode = model.RestartNo
	case model.RestartNo, model.RestartAlways, model.RestartUnlessStopped:
	case model.RestartOnFailure:
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return r, fmt.Errorf("invalid retry count %q", count)
			}
			r.MaxRetries = n
		}
		return r, nil
	default:
		return r, fmt.Errorf("unknown policy %q (valid: no, always, on-failure[:N], unless-stopped)", v)
	}
	if hasCount {
		return r, fmt.Errorf("a retry count is only valid with on-failure, got %q", v)
	}
	return r, nil
}

// signalNames are the Linux signals systemd's KillSignal= accepts, without
// the SIG prefix.
var signalNames = []string{"HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL",
	"USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP",
	"TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS"}

// validSignal accepts "SIGTERM", "TERM", a number, or SIGRTMIN+N/SIGRTMAX-N.
func validSignal(sig string) bool {
	if n, err := strconv.Atoi(sig); err == nil {
		return n > 0 && n < 65
	}
	name := strings.TrimPrefix(strings.ToUpper(sig), "SIG")
	for _, rt := range []string{"RTMIN", "RTMAX"} {
		if rest, ok := strings.CutPrefix(name, rt); ok {
			if rest == "" {
				return true
			}
			n, err := strconv.Atoi(rest)
			return err == nil && n >= -30 && n <= 30
		}
	}
	return slices.Contains(signalNames, name)
}

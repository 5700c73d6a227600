package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeFileNames are the names docker compose looks for, in its order.
var composeFileNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// LoadProject loads the project kept in dir (compose.yaml plus its override
// file and .env) or in the single file path NAME.yaml.
func LoadProject(ctx context.Context, name, path string) (*Project, error) {
	files, dir, err := projectFiles(path)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := checkYAML(f); err != nil {
			return nil, err
		}
	}
	opts, err := cli.NewProjectOptions(files,
		cli.WithName(name),
		cli.WithWorkingDirectory(dir),
		cli.WithOsEnv,
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultProfiles(),
	)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	cp, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	p := &Project{Name: cp.Name, Dir: dir, Files: files}
	for _, f := range files {
		w, err := unsupportedFields(f)
		if err != nil {
			return nil, err
		}
		p.Warnings = append(p.Warnings, w...)
	}
	var errs []error
	for _, sc := range cp.Services {
		s, err := convertService(p.Name, sc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: service %q: %w", files[0], sc.Name, err))
			continue
		}
		p.Services = append(p.Services, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(p.Services, func(i, j int) bool { return p.Services[i].Name < p.Services[j].Name })
	p.GateHealthy()
	return p, nil
}

// projectFiles returns the compose files of a project entry and its dir.
func projectFiles(path string) (files []string, dir string, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	if !fi.IsDir() {
		return []string{path}, filepath.Dir(path), nil
	}
	for _, n := range composeFileNames {
		f := filepath.Join(path, n)
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
			break
		}
	}
	if len(files) == 0 {
		return nil, "", fmt.Errorf("%s: no compose.yaml in project directory", path)
	}
	base := strings.TrimSuffix(files[0], filepath.Ext(files[0]))
	for _, ext := range []string{".override.yaml", ".override.yml"} {
		if _, err := os.Stat(base + ext); err == nil {
			files = append(files, base+ext)
			break
		}
	}
	return files, path, nil
}

func convertService(project string, sc types.ServiceConfig) (Service, error) {
	s := Service{
		Project:     project,
		Name:        sc.Name,
		Image:       sc.Image,
		WorkingDir:  sc.WorkingDir,
		User:        sc.User,
		StopSignal:  sc.StopSignal,
		NetworkMode: sc.NetworkMode,
	}
	if s.Image == "" {
		return s, errors.New("image: required (build is not supported)")
	}
	if sc.Entrypoint != nil {
		s.Entrypoint = append([]string{}, sc.Entrypoint...)
	}
	if sc.Command != nil {
		s.Command = append([]string{}, sc.Command...)
	}
	for k, v := range sc.Environment {
		if v == nil {
			continue // unset variable without value: compose drops it too
		}
		if s.Environment == nil {
			s.Environment = map[string]string{}
		}
		s.Environment[k] = *v
	}
	for k, v := range sc.Labels {
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[k] = v
	}
	if sc.Init != nil {
		s.Init = *sc.Init
	}
	s.StopGracePeriod = DefaultStopGracePeriod
	if sc.StopGracePeriod != nil {
		s.StopGracePeriod = time.Duration(*sc.StopGracePeriod)
	}
	var err error
	if s.Restart, err = ParseRestart(sc.Restart); err != nil {
		return s, fmt.Errorf("restart: %w", err)
	}
	switch sc.NetworkMode {
	case "", "host", "none", "default":
		if sc.NetworkMode == "default" {
			s.NetworkMode = ""
		}
	default:
		return s, fmt.Errorf("network_mode: %q is not supported yet (use host or none)", sc.NetworkMode)
	}
	s.Resources = resources(sc)
	return s, nil
}

// resources merges mem_limit/cpus/pids_limit with deploy.resources.limits;
// the deploy form wins, as in docker compose.
func resources(sc types.ServiceConfig) Resources {
	r := Resources{MemoryMax: int64(sc.MemLimit), CPUs: float64(sc.CPUS), PidsMax: sc.PidsLimit}
	if sc.Deploy != nil && sc.Deploy.Resources.Limits != nil {
		l := sc.Deploy.Resources.Limits
		if l.MemoryBytes > 0 {
			r.MemoryMax = int64(l.MemoryBytes)
		}
		if l.NanoCPUs > 0 {
			r.CPUs = float64(l.NanoCPUs)
		}
		if l.Pids > 0 {
			r.PidsMax = l.Pids
		}
	}
	return r
}

// ParseRestart parses docker's restart policy syntax ("on-failure:3").
func ParseRestart(v string) (Restart, error) {
	mode, count, hasCount := strings.Cut(v, ":")
	r := Restart{Mode: RestartMode(mode)}
	switch r.Mode {
	case "":
		r.Mode = RestartNo
	case RestartNo, RestartAlways, RestartUnlessStopped:
	case RestartOnFailure:
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

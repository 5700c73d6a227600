package compose

import (
	"path/filepath"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/compose/model"
)

// envFiles replaces the values compose-go merged from env_file into the
// environment by references to the files, which the launcher reads at start:
// an env_file often holds passwords, and the spec is on disk. A variable
// stays in Environment when `environment:` overrides it or when the
// launcher's parser would read it differently from compose-go.
func (l *loader) envFiles(c svcAt, sc types.ServiceConfig, s *model.Service) error {
	fromFiles := map[string]string{} // what the launcher will see, later files winning
	for i, ef := range sc.EnvFiles {
		if ef.Format != "" {
			return nil // another format: keep every value as compose-go read it
		}
		path := ef.Path
		if !filepath.IsAbs(path) {
			path = filepath.Join(l.dir, path)
		}
		f, vars, err := model.NewEnvFile(path, bool(ef.Required))
		if err != nil {
			return c.errorf([]string{"env_file", strconv.Itoa(i)}, "reading %s: %v", path, err)
		}
		s.EnvFiles = append(s.EnvFiles, f)
		for k, v := range vars {
			fromFiles[k] = v
		}
	}
	for k, v := range fromFiles {
		if got, ok := s.Environment[k]; ok && got == v {
			delete(s.Environment, k)
		}
	}
	if len(s.Environment) == 0 {
		s.Environment = nil
	}
	return nil
}

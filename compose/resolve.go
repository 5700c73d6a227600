package compose

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	cgloader "github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"gopkg.in/yaml.v3"
)

// composeFileNames are the names docker compose looks for, in its order
// (compose-go's cli.DefaultFileNames).
var composeFileNames = []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"}

// overrideFileNames are the override files docker compose adds to the file
// it found, in its order (cli.DefaultOverrideFileNames).
var overrideFileNames = []string{"compose.override.yml", "compose.override.yaml", "docker-compose.override.yml", "docker-compose.override.yaml"}

// The variables that select a project's files and name. berth takes them
// from the project's .env only: one exported in the shell that runs
// `berth plan` would otherwise rename, or swap the files of, every project
// in the config dir at once.
const (
	envProjectName   = "COMPOSE_PROJECT_NAME"
	envFile          = "COMPOSE_FILE"
	envPathSeparator = "COMPOSE_PATH_SEPARATOR"
)

// projectSource is what a project entry resolves to before compose-go
// runs: its directory, its files and its name, decided as docker compose
// decides them. Resolving reads little and never fails on a broken compose
// file, so an entry keeps its name (and owns its units) while its file is
// broken.
type projectSource struct {
	path  string // the entry: a directory or a file
	dir   string
	files []string // absolute, in merge order
	name  string
	// environ is the interpolation environment: the process environment
	// (without the variables above) over the project's .env.
	environ map[string]string
	warns   []string
}

// resolveSource finds the files, directory and name of the project entry
// at path (a directory or one compose file). name, when set, is the
// caller's explicit name (docker compose -p).
func resolveSource(path, name string, o options) (*projectSource, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving project path: %w", err)
	}
	fi, err := os.Stat(abs) // follows a symlinked entry
	if err != nil {
		return nil, fmt.Errorf("reading project entry: %w", err)
	}
	src := &projectSource{path: path, dir: abs}
	if !fi.IsDir() {
		src.dir, src.files = filepath.Dir(abs), []string{abs}
	}
	dotEnv := filepath.Join(src.dir, ".env")
	src.environ = processEnviron(o)
	local, err := readDotEnv(dotEnv, src.environ)
	if err != nil {
		return nil, err
	}
	for k, v := range local {
		if _, set := src.environ[k]; !set {
			src.environ[k] = v // the process environment wins, as in compose
		}
	}
	if fi.IsDir() {
		if err := src.findFiles(local, dotEnv); err != nil {
			return nil, err
		}
	} else {
		// A single-file entry shares the config dir's .env with every other
		// one: it cannot name them all.
		delete(local, envProjectName)
	}
	if err := src.resolveName(name, local, dotEnv, fallbackName(abs, fi.IsDir())); err != nil {
		return nil, err
	}
	return src, nil
}

// findFiles selects a project directory's files: COMPOSE_FILE from .env
// (paths relative to the directory, split at COMPOSE_PATH_SEPARATOR, ':' by
// default), or the first of composeFileNames plus the first override file.
func (src *projectSource) findFiles(local map[string]string, dotEnv string) error {
	if list, ok := local[envFile]; ok && strings.TrimSpace(list) != "" {
		sep := local[envPathSeparator]
		if sep == "" {
			sep = string(os.PathListSeparator)
		}
		at := fmt.Sprintf("%s:%d", dotEnv, envLine(dotEnv, envFile))
		for _, f := range strings.Split(list, sep) {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			if !filepath.IsAbs(f) {
				f = filepath.Join(src.dir, f)
			}
			fi, err := os.Stat(f)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", at, envFile, err)
			}
			if fi.IsDir() {
				return fmt.Errorf("%s: %s: %s is a directory, not a compose file", at, envFile, f)
			}
			src.files = append(src.files, f)
		}
		return nil
	}
	main := existing(src.dir, composeFileNames)
	if len(main) == 0 {
		return fmt.Errorf("%s: no compose file in project directory (looked for %s)", src.dir, strings.Join(composeFileNames, ", "))
	}
	src.files = append(src.files, main[0])
	if len(main) > 1 {
		src.warns = append(src.warns, fmt.Sprintf("%s: several compose files (%s): %s is used, as docker compose does", main[0], baseNames(main), filepath.Base(main[0])))
	}
	if over := existing(src.dir, overrideFileNames); len(over) > 0 {
		src.files = append(src.files, over[0])
		if len(over) > 1 {
			src.warns = append(src.warns, fmt.Sprintf("%s: several override files (%s): %s is used, as docker compose does", over[0], baseNames(over), filepath.Base(over[0])))
		}
	}
	return nil
}

// resolveName decides the project name as docker compose does: the
// caller's (-p), else COMPOSE_PROJECT_NAME from .env, else the files'
// top-level name (interpolated; the last file setting one wins), else the
// entry's directory or file name; the last two are normalised (lowercased,
// other characters than a-z, 0-9, '-' and '_' dropped).
func (src *projectSource) resolveName(explicit string, local map[string]string, dotEnv, fallback string) error {
	if explicit != "" {
		if cgloader.NormalizeProjectName(explicit) != explicit {
			return fmt.Errorf("project name %q must be lowercase letters, digits, '-' or '_'", explicit)
		}
		src.name = explicit
		return nil
	}
	if v := local[envProjectName]; v != "" {
		if cgloader.NormalizeProjectName(v) != v {
			return fmt.Errorf("%s:%d: %s %q must be lowercase letters, digits, '-' or '_', starting with a letter or digit",
				dotEnv, envLine(dotEnv, envProjectName), envProjectName, v)
		}
		src.name = v
		return nil
	}
	for _, f := range src.files {
		raw := topLevelName(f)
		if raw == "" {
			continue
		}
		v, err := template.SubstituteWithOptions(raw, func(k string) (string, bool) {
			v, ok := src.environ[k]
			return v, ok
		}, template.WithoutLogging)
		if err != nil {
			return fmt.Errorf("%s: top-level field \"name\": %w", f, err)
		}
		if n := cgloader.NormalizeProjectName(v); n != "" {
			src.name = n
		}
	}
	if src.name != "" {
		return nil
	}
	src.name = cgloader.NormalizeProjectName(fallback)
	if src.name == "" {
		return fmt.Errorf("%s: project name: %q has no letter or digit to name the project by; set a top-level name or COMPOSE_PROJECT_NAME in .env", src.path, fallback)
	}
	return nil
}

// fallbackName is the name an entry has without COMPOSE_PROJECT_NAME or a
// top-level name: a directory's name; a file's name without its extension,
// or its directory's name for a file with a compose default name.
func fallbackName(path string, isDir bool) string {
	base := filepath.Base(path)
	if isDir {
		return base
	}
	for _, n := range composeFileNames {
		if base == n {
			return filepath.Base(filepath.Dir(path))
		}
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// topLevelName returns the raw top-level `name:` of a compose file, "" when
// there is none. A file that does not parse is searched line by line, so a
// syntax error does not rename the project.
func topLevelName(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) == nil {
		if len(doc.Content) == 0 {
			return ""
		}
		var out string
		eachKey(doc.Content[0], func(k, v *yaml.Node) {
			if k.Value == "name" && v.Kind == yaml.ScalarNode {
				out = v.Value
			}
		})
		return out
	}
	if m := nameLine.FindSubmatch(b); m != nil {
		return strings.Trim(strings.TrimSpace(string(m[1])), `"'`)
	}
	return ""
}

var nameLine = regexp.MustCompile(`(?m)^name:[ \t]*([^#\n]*)`)

// readDotEnv reads a project's .env; none is an empty map. Its values may
// refer to the process environment (current), as in docker compose.
func readDotEnv(path string, current map[string]string) (map[string]string, error) {
	fi, err := os.Stat(path)
	if os.IsNotExist(err) || err == nil && fi.IsDir() {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading .env: %w", err)
	}
	env, err := dotenv.GetEnvFromFile(current, []string{path})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return env, nil
}

// envLine is the line of a .env file setting key (the last one, which
// wins), 0 when not found.
func envLine(path, key string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	re := regexp.MustCompile(`^\s*(export\s+)?` + regexp.QuoteMeta(key) + `\s*=`)
	line := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if re.MatchString(sc.Text()) {
			line = n
		}
	}
	return line
}

// processEnviron is the process environment (or WithEnviron's) without the
// variables that select a project's files and name.
func processEnviron(o options) map[string]string {
	env := o.environ
	if !o.environSet {
		env = os.Environ()
	}
	out := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case envProjectName, envFile, envPathSeparator:
			continue
		}
		out[k] = v
	}
	return out
}

func existing(dir string, names []string) []string {
	var out []string
	for _, n := range names {
		f := filepath.Join(dir, n)
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() {
			out = append(out, f)
		}
	}
	return out
}

func baseNames(paths []string) string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return strings.Join(out, ", ")
}

package compose

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/compose/model"

	cgloader "github.com/compose-spec/compose-go/v2/loader"
)

// LoadEntry loads the one config-dir entry at path (a project directory or
// a NAME.yaml file) as LoadDir would load it in its parent directory, so
// `berth config ./app` checks a project wherever it lives. A path that is
// no project (a hidden file, berth.yaml) is an error.
func LoadEntry(ctx context.Context, path string, opts ...DirOption) model.Entry {
	path = filepath.Clean(path)
	opts = append([]Option{WithConfigRoot(filepath.Dir(path))}, opts...)
	o := collectOptions(opts)
	fi, err := os.Lstat(path)
	if err != nil {
		return model.Entry{Path: path, Err: err}
	}
	base, isDir, err := entryName(path, fs.FileInfoToDirEntry(fi))
	if base == "" {
		return model.Entry{Path: path, Err: fmt.Errorf("%s: not a project: a directory or a .yaml/.yml file, not hidden, not berth.yaml", path)}
	}
	e := model.Entry{Name: cgloader.NormalizeProjectName(base), Path: path}
	if err == nil {
		e.Name, e.Project, err = loadEntry(ctx, o, base, path, isDir)
	}
	e.Err = err
	return e
}

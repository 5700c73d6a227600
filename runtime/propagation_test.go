package runtime

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/compose/model"
)

// TestBindPropagation: a bind's propagation reaches the OCI mount options,
// rprivate by default, and a shared or slave bind opens the root's
// propagation as docker does.
func TestBindPropagation(t *testing.T) {
	for _, tc := range []struct {
		prop, opt, root string
	}{
		{"", "rprivate", ""},
		{"rslave", "rslave", "rslave"},
		{"shared", "shared", "rshared"},
	} {
		spec := &specs.Spec{Root: &specs.Root{}, Linux: &specs.Linux{}}
		svc := &model.Service{Mounts: []model.Mount{{Type: model.MountBind, Source: "/srv", Target: "/srv", Propagation: tc.prop}}}
		if err := applyMounts(spec, svc, &storage{sources: []string{"/srv"}}); err != nil {
			t.Fatal(err)
		}
		m := spec.Mounts[len(spec.Mounts)-1]
		if !slices.Contains(m.Options, tc.opt) || slices.Contains(m.Options, "rprivate") && tc.opt != "rprivate" {
			t.Errorf("propagation %q: options %v, want %s", tc.prop, m.Options, tc.opt)
		}
		if spec.Linux.RootfsPropagation != tc.root {
			t.Errorf("propagation %q: rootfs propagation %q, want %q", tc.prop, spec.Linux.RootfsPropagation, tc.root)
		}
	}
}

package paths

import "path/filepath"

// OneOffs holds the specs of one-off containers (berth run), apart from
// the spec store, whose pruning knows only declared services. A spec is
// there exactly while its one-off may run: network GC keeps the one-off's
// address while it is.
func (l Layout) OneOffs() string { return filepath.Join(l.state(), "oneoff") }

// OneOffSpec is the spec file of the one-off container id.
func (l Layout) OneOffSpec(id string) (string, error) { return Path(l.OneOffs(), id+".json") }

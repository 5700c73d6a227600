package paths

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/compose/model"
)

// OneOffs holds the specs of one-off containers (berth run), apart from
// the spec store, whose pruning knows only declared services. A spec is
// there exactly while its one-off may run: network GC keeps the one-off's
// address while it is.
func (l Layout) OneOffs() string { return filepath.Join(l.state(), "oneoff") }

// OneOffSpec is the spec file of the one-off container id.
func (l Layout) OneOffSpec(id string) (string, error) { return Path(l.OneOffs(), id+".json") }

// OneOffConsole is the socket where `berth run -t` receives the pty of
// the one-off container id (see runtime.ListenConsole).
func (l Layout) OneOffConsole(id string) (string, error) { return Path(l.OneOffs(), id+".console") }

// SaveOneOffSpec writes the spec of a one-off to path (OneOffSpec), with
// its encrypted credentials beside it as Specs.Save does.
func SaveOneOffSpec(ctx context.Context, path string, svc *model.Service) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("writing one-off spec: %w", err)
	}
	b, err := json.MarshalIndent(svc, "", "  ")
	if err != nil {
		return err
	}
	if err := saveCredentials(ctx, path, svc); err != nil {
		return fmt.Errorf("writing one-off spec: %w", err)
	}
	if err := WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("writing one-off spec: %w", err)
	}
	return nil
}

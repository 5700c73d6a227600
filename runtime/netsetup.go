package runtime

import (
	"context"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/network"
)

// The launcher's network hooks: setupNetwork runs in Run before the spec is
// built, teardownNetwork in every cleanup. Package network does the work.

func netLauncher(opts Options) *network.Launcher {
	return &network.Launcher{
		Paths:     network.Paths{StateDir: opts.StateDir, RunDir: opts.RunDir},
		PluginDir: opts.CNIPluginDir,
		Log:       opts.Log,
	}
}

// setupNetwork gives svc its network (see network.Launcher.Setup); dir is
// the container's run dir, where the hosts and resolv.conf files live.
func setupNetwork(ctx context.Context, opts Options, dir string, svc *model.Service) (*network.Container, error) {
	return netLauncher(opts).Setup(ctx, dir, svc)
}

// teardownNetwork removes container id's attachments and netns pin.
func teardownNetwork(ctx context.Context, opts Options, id string) error {
	return netLauncher(opts).Teardown(ctx, id)
}

// applyNetwork points the spec at the prepared namespace and bind-mounts
// the name-resolution files, writable as under docker, so
// programs that edit /etc/hosts keep working.
func applyNetwork(spec *specs.Spec, c *network.Container) {
	if c == nil {
		return
	}
	spec.Hostname = c.Hostname
	if c.NetnsPath != "" {
		for i := range spec.Linux.Namespaces {
			if spec.Linux.Namespaces[i].Type == specs.NetworkNamespace {
				spec.Linux.Namespaces[i].Path = c.NetnsPath
			}
		}
	}
	targets := make([]string, 0, len(c.Files))
	for t := range c.Files {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	for _, t := range targets {
		spec.Mounts = append(spec.Mounts, specs.Mount{
			Destination: t,
			Type:        "bind",
			Source:      c.Files[t],
			Options:     []string{"rbind", "rw", "nosuid", "nodev", "noexec"},
		})
	}
}

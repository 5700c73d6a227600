// Package launch holds what systemd units execute to run containers: the
// run, stop-container, cleanup, pod-run and pod-cleanup commands and the re-exec entry
// points (libcontainer's init, the reaper of `init: true` containers).
//
// cmd/berth-launcher is these alone. Every package a binary links runs its
// init at every exec, and a container start execs the launcher and then
// libcontainer's init; keeping the Compose loader's dependencies
// (compose-go, its JSON schema compiler) out of that binary takes their
// start-up cost off every start. cmd/berth registers the same commands, so
// units written before the launcher existed keep working.
package launch

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/cmd/internal/settings"
	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/runtime/paths"
)

// Globals are the options every berth command shares: the directories and
// the log level.
type Globals struct {
	ConfigDir string
	StateDir  string
	RunDir    string
	Verbose   bool
}

// AddFlags registers the shared options as root's persistent flags, with
// defaults from the environment (BERTH_CONFIG_DIR …), which is how units
// pass them on.
func (g *Globals) AddFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&g.ConfigDir, "config-dir", envOr("BERTH_CONFIG_DIR", paths.DefaultConfigDir), "desired state: one project per entry ($BERTH_CONFIG_DIR)")
	f.StringVar(&g.StateDir, "state-dir", envOr("BERTH_STATE_DIR", paths.DefaultStateDir), "images, volumes and specs ($BERTH_STATE_DIR)")
	f.StringVar(&g.RunDir, "run-dir", envOr("BERTH_RUN_DIR", paths.DefaultRunDir), "rootfs mounts and container state ($BERTH_RUN_DIR)")
	f.BoolVarP(&g.Verbose, "verbose", "v", false, "debug logging")
}

// Absolute makes the directories absolute; units and state files must not
// depend on the caller's working directory.
func (g *Globals) Absolute() error {
	for _, d := range []*string{&g.ConfigDir, &g.StateDir, &g.RunDir} {
		abs, err := filepath.Abs(*d)
		if err != nil {
			return err
		}
		*d = abs
	}
	return nil
}

// Logger logs text to stderr (the unit's journal), at debug level with -v.
func (g *Globals) Logger() *slog.Logger {
	level := slog.LevelInfo
	if g.Verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// runtimeOptions are the runtime's options for the directories and the
// launcher's keys of berth.yaml.
func runtimeOptions(globals func() *Globals) (runtime.Options, error) {
	g := globals()
	config := paths.New(g.ConfigDir, "", "")
	st, err := settings.Load(config.Settings())
	if err != nil {
		return runtime.Options{}, err
	}
	return runtime.Options{StateDir: g.StateDir, RunDir: g.RunDir, Insecure: st.InsecureRegistries,
		AuthFile: config.AuthFile(), CNIPluginDir: st.CNIPluginDir, Log: g.Logger()}, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// ReExec runs the process as libcontainer's init or as the reaper when it
// was executed as one, and reports whether it was; main returns at once if
// so. Neither path may touch cobra or anything else.
func ReExec() bool {
	if len(os.Args) < 2 {
		return false
	}
	switch os.Args[1] {
	case "init":
		// libcontainer re-executes /proc/self/exe as "init" inside the new
		// container.
		runtime.Init()
		return true
	case runtime.ReaperCommand:
		// The small init of `init: true` containers.
		os.Exit(runtime.Reaper(os.Args[2:]))
	}
	return false
}

// ExitCode is the exit status err asks for: a `run --wait` container's own
// status, else 1.
func ExitCode(err error) int {
	var ee *runtime.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 1
}

// Commands are the hidden commands units execute; globals gives the shared
// options once the flags are parsed.
func Commands(globals func() *Globals) []*cobra.Command {
	return []*cobra.Command{newRunCommand(globals), newCleanupCommand(globals), newStopContainerCommand(), newPodRunCommand(globals), newPodCleanupCommand(globals)}
}

func newRunCommand(globals func() *Globals) *cobra.Command {
	var spec string
	var wait bool
	cmd := &cobra.Command{
		Use:    "run --spec FILE [--wait] ID",
		Short:  "Start a container as the calling unit's main process (used by units)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := paths.LoadSpec(cmd.Context(), spec)
			if err != nil {
				return err
			}
			opts, err := runtimeOptions(globals)
			if err != nil {
				return err
			}
			if wait {
				return runtime.RunToCompletion(cmd.Context(), opts, svc)
			}
			return runtime.Run(cmd.Context(), opts, svc)
		},
	}
	cmd.Flags().StringVar(&spec, "spec", "", "frozen service spec written by apply")
	cmd.Flags().BoolVar(&wait, "wait", false, "run the container to completion and exit with its status (oneshot units)")
	_ = cmd.MarkFlagRequired("spec")
	return cmd
}

func newCleanupCommand(globals func() *Globals) *cobra.Command {
	var instance bool
	cmd := unitCommand(globals, "cleanup [--instance] ID", "Remove everything a container left behind (used by units)",
		func(ctx context.Context, opts runtime.Options, id string) error {
			if instance {
				// A per-connection container of an accepting service: its
				// ID is the service's plus this unit's invocation.
				var err error
				if id, err = model.InstanceID(id, os.Getenv("INVOCATION_ID")); err != nil {
					return err
				}
			}
			return runtime.Cleanup(ctx, opts, id)
		})
	cmd.Flags().BoolVar(&instance, "instance", false, "ID is an accepting service's; clean up this unit's per-connection container ($INVOCATION_ID)")
	return cmd
}

// unitCommand is a hidden command units execute with one argument (an ID
// or a project), which run gets with the runtime options.
func unitCommand(globals func() *Globals, use, short string, run func(context.Context, runtime.Options, string) error) *cobra.Command {
	return &cobra.Command{
		Use:    use,
		Short:  short,
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := runtimeOptions(globals)
			if err != nil {
				return err
			}
			return run(cmd.Context(), opts, args[0])
		},
	}
}

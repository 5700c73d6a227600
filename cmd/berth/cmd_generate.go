package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/compose/kube"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime/network"
	"github.com/berth-dev/berth/runtime/paths"
	"github.com/berth-dev/berth/units"
	"github.com/spf13/cobra"
)

type generateOptions struct {
	// Output is the directory the unit files go to.
	Output string
	// Binary overrides the berth path the units execute (tests); empty
	// means this executable.
	Binary string
}

func newGenerateCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write files that make berth projects work without berth's agent",
	}
	cmd.AddCommand(newGenerateSystemdCommand(g), newGenerateKubeCommand(g))
	return cmd
}

func newGenerateSystemdCommand(g *globalOptions) *cobra.Command {
	o := &generateOptions{}
	cmd := &cobra.Command{
		Use:   "systemd PROJECT",
		Short: "Write persistent unit files for every service of a project",
		Long: `generate systemd freezes each service's spec into the state dir and writes
its unit files: the same units apply starts as transient units (the service,
its .socket when socket-activated, its health timer and check service), with
an [Install] section on the service (or the socket), so it can be enabled
with systemctl and runs without the agent. Do not also let apply or the agent manage the same project: the unit
names are the same.`,
		Example: `  berth generate systemd hello --output /etc/systemd/system
  systemctl daemon-reload && systemctl enable --now berth-hello-web.service`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGenerateSystemd(cmd.Context(), g, o, args[0], cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", ".", "directory to write the unit files to")
	return cmd
}

// runGenerateSystemd writes one unit file per service of project into
// o.Output and prints their absolute paths. It needs no systemd connection.
func runGenerateSystemd(ctx context.Context, g *globalOptions, o *generateOptions, project string, out io.Writer) error {
	// It reserves addresses and writes frozen specs: never while apply,
	// down, auto-update or the agent change them.
	unlock, err := reconciler.Lock(ctx, g.StateDir, func() { g.logger().Info("waiting for a reconcile in progress") })
	if err != nil {
		return err
	}
	defer unlock()
	p, err := loadProjectNetworked(ctx, g, project)
	if err != nil {
		return err
	}
	for _, w := range p.Warnings {
		fmt.Fprintln(out, "warning:", w)
	}
	cfg, err := unitConfig(g, o.Binary)
	if err != nil {
		return err
	}
	cfg.UnitFile = true
	dir, err := filepath.Abs(o.Output)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating output dir: %w", err)
	}
	// Build every set first: bad input writes nothing.
	sets := make([]*units.Set, len(p.Services))
	for i := range p.Services {
		svc := &p.Services[i]
		spec, err := paths.New("", g.StateDir, "").SpecStore().Path(svc)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", svc.Project, svc.Name, err)
		}
		set, err := units.Build(cfg, svc, spec)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", svc.Project, svc.Name, err)
		}
		sets[i] = set
	}
	for i := range p.Services {
		svc := &p.Services[i]
		if _, err := paths.New("", g.StateDir, "").SpecStore().Save(ctx, svc); err != nil {
			return fmt.Errorf("saving spec of %s/%s: %w", svc.Project, svc.Name, err)
		}
		files, err := generateBuildUnit(g, cfg, svc, sets[i])
		if err != nil {
			return err
		}
		for _, u := range append(sets[i].Files(), files...) {
			path := filepath.Join(dir, u.Name)
			if err := writeFileAtomic(path, []byte(u.Text()), 0o644); err != nil {
				return fmt.Errorf("writing unit of %s/%s: %w", svc.Project, svc.Name, err)
			}
			fmt.Fprintln(out, path)
		}
	}
	for _, pod := range p.Pods {
		// Kubernetes input: the containers' units are BindsTo= their pod's
		// unit, so enabling them starts it; it needs no [Install].
		u := units.Pod(cfg, p.Name, pod)
		path := filepath.Join(dir, u.Name)
		if err := writeFileAtomic(path, []byte(u.Text()), 0o644); err != nil {
			return fmt.Errorf("writing pod unit of %s: %w", p.Name, err)
		}
		fmt.Fprintln(out, path)
	}
	return nil
}

// loadProject loads one entry of the config dir; a broken entry is an error.
func loadProject(ctx context.Context, configDir, name string) (*model.Project, error) {
	entries, err := loadConfigDir(ctx, configDir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Name == name {
			return e.Project, e.Err
		}
	}
	return nil, fmt.Errorf("no project %q in %s", name, configDir)
}

// loadProjectNetworked loads one entry and reserves its network addresses,
// as apply does: the generated units' launchers find them in the spec.
func loadProjectNetworked(ctx context.Context, g *globalOptions, name string) (*model.Project, error) {
	entries, err := loadConfigDir(ctx, g.ConfigDir)
	if err != nil {
		return nil, err
	}
	if !hasEntry(entries, name) {
		return nil, fmt.Errorf("no project %q in %s", name, g.ConfigDir)
	}
	store, err := imageStore(g)
	if err != nil {
		return nil, err
	}
	settleImageHealth(ctx, store, g.logger(), entries)
	paths := network.Paths{StateDir: g.StateDir, RunDir: g.RunDir}
	if err := network.Prepare(ctx, paths, entries, []string{name}, true); err != nil {
		return nil, err
	}
	if err := paths.MarkUnitFile(name); err != nil {
		return nil, fmt.Errorf("marking the networks of %s as used by unit files: %w", name, err)
	}
	for _, e := range entries {
		if e.Name == name {
			return e.Project, e.Err
		}
	}
	return nil, fmt.Errorf("no project %q in %s", name, g.ConfigDir)
}

// unitConfig says how units call berth: binary (default: this one), the
// launcher next to it (when installed; see cmd/berth-launcher) and the
// dirs, passed on when they differ from the defaults because units run
// without the caller's environment.
func unitConfig(g *globalOptions, binary string) (units.Config, error) {
	if binary == "" {
		bin, err := os.Executable()
		if err != nil {
			return units.Config{}, fmt.Errorf("finding the berth binary: %w", err)
		}
		binary = bin
	}
	cfg := units.Config{Binary: binary, Launcher: launcherNextTo(binary)}
	if g.ConfigDir != paths.DefaultConfigDir {
		cfg.ConfigDir = g.ConfigDir
	}
	if g.StateDir != paths.DefaultStateDir {
		cfg.StateDir = g.StateDir
	}
	if g.RunDir != paths.DefaultRunDir {
		cfg.RunDir = g.RunDir
	}
	return cfg, nil
}

// launcherName is the launcher's file name; `make install` puts it next to
// berth.
const launcherName = "berth-launcher"

// launcherNextTo is the launcher beside binary if there is an executable
// one, else "" (units then run binary itself, which has the same commands).
func launcherNextTo(binary string) string {
	l := filepath.Join(filepath.Dir(binary), launcherName)
	if fi, err := os.Stat(l); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return ""
	}
	return l
}

// writeFileAtomic replaces path with paths.WriteFile, so systemd never
// reads half a unit file.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	return paths.WriteFile(path, b, mode)
}

type generateKubeOptions struct {
	Type    string
	Service bool
	Output  string
}

func newGenerateKubeCommand(g *globalOptions) *cobra.Command {
	o := &generateKubeOptions{}
	cmd := &cobra.Command{
		Use:   "kube PROJECT",
		Short: "Write a project as Kubernetes YAML",
		Long: `generate kube writes the project as YAML that kubectl apply accepts: one
Deployment per service (a Job for a service that runs to completion), or
with --type pod a single Pod holding every service; ConfigMaps and Secrets
for configs and secrets, PersistentVolumeClaims for named volumes, and with
--service a Service for the published ports. What Kubernetes cannot express
is named in warnings on stderr. The output put back in the config dir runs
the same containers under berth.`,
		Example: `  berth generate kube hello > hello-k8s.yaml
  berth generate kube hello --type pod --service -o /etc/berth/hello-pod.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGenerateKube(cmd.Context(), g, o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&o.Type, "type", string(kube.TypeDeployment), "deployment (one per service) or pod (one for all)")
	cmd.Flags().BoolVar(&o.Service, "service", false, "add a Service for the published ports")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "file to write instead of stdout")
	return cmd
}

// runGenerateKube loads project and writes it as Kubernetes YAML.
func runGenerateKube(ctx context.Context, g *globalOptions, o *generateKubeOptions, project string, out, errOut io.Writer) error {
	t, err := kube.ParseGenerateType(o.Type)
	if err != nil {
		return fmt.Errorf("--type: %w", err)
	}
	p, err := loadProject(ctx, g.ConfigDir, project)
	if err != nil {
		return err
	}
	b, warns, err := kube.Generate(p, kube.GenerateOptions{Type: t, Service: o.Service})
	if err != nil {
		return err
	}
	for _, w := range append(warns, builtImageWarnings(p)...) {
		fmt.Fprintln(errOut, "warning:", w)
	}
	if o.Output == "" {
		_, err = out.Write(b)
		return err
	}
	return writeFileAtomic(o.Output, b, 0o644)
}

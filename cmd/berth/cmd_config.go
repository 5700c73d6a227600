package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/berth-dev/berth/cmd/internal/settings"
	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/compose/kube"
	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/network"
	"github.com/berth-dev/berth/units"
)

type configOptions struct {
	Format   string
	Services bool
	Hash     bool
	Strict   bool
}

// offlineNote is printed on stderr by every offline command: what it did
// not check, so a clean result is not mistaken for a host's verdict.
const offlineNote = "offline: image, host network and external volume checks skipped; addresses as allocated on an empty host"

func newConfigCommand(g *globalOptions) *cobra.Command {
	o := &configOptions{}
	cmd := &cobra.Command{
		Use:   "config [PROJECT|PATH...]",
		Short: "Check the config files and print the model, offline",
		Long: `config loads the config dir (or the named projects, or project directories
and .yaml files given as paths) and prints the model berth would run, like
'docker compose config'. It needs no systemd, no network and no root, so it
runs on a laptop or in CI.

Warnings and errors name file and line, on stderr. Checks that need the host
(images, external networks and volumes) are skipped, and stderr says so.

Exit status: 0 clean, 1 a file has errors (or, with --strict, warnings).`,
		Example: `  berth config                          # the whole config dir as YAML
  berth config --strict ./myapp         # CI: fail on any warning
  berth config --services hello
  berth config --hash                   # spec hashes, as apply computes them`,
		ValidArgsFunction: completeProjects(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfig(cmd.Context(), g, o, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	addFormatFlag(f, &o.Format, "", "yaml", "json")
	f.BoolVar(&o.Services, "services", false, "print the service names only")
	f.BoolVar(&o.Hash, "hash", false, "print each service's spec hash (and each pod's)")
	f.BoolVar(&o.Strict, "strict", false, "exit 1 on warnings too")
	return cmd
}

func runConfig(ctx context.Context, g *globalOptions, o *configOptions, args []string, out, errOut io.Writer) error {
	entries, st, err := loadOffline(ctx, g, args)
	if err != nil {
		return err
	}
	// Render before addresses are filled in: the model as the files say it.
	docs := make([]*yaml.Node, len(entries))
	for i, e := range entries {
		if e.Project != nil {
			if docs[i], err = modelNode(e.Project); err != nil {
				return err
			}
		}
	}
	unchecked, err := prepareOffline(ctx, entries)
	if err != nil {
		return err
	}
	fmt.Fprintln(errOut, offlineNote)
	var errs, warns int
	for _, u := range st.Unknown {
		warns++
		fmt.Fprintf(errOut, "warning: %s\n", u)
	}
	for _, e := range entries {
		if e.Err != nil {
			errs++
			fmt.Fprintf(errOut, "error: %v\n", e.Err)
			continue
		}
		for _, w := range e.Project.Warnings {
			warns++
			fmt.Fprintf(errOut, "warning: %s\n", w)
		}
		if why := unchecked[e.Name]; why != "" {
			fmt.Fprintf(errOut, "%s: hash not final: %s\n", e.Path, why)
		}
	}
	switch {
	case o.Services:
		for _, e := range entries {
			if e.Project != nil {
				for _, s := range e.Project.Services {
					fmt.Fprintf(out, "%s/%s\n", e.Name, s.Name)
				}
			}
		}
	case o.Hash:
		fromImage := 0
		defer func() {
			if fromImage > 0 {
				fmt.Fprintf(errOut, "hashes of %d services assume their image declares no HEALTHCHECK (apply reads the image's)\n", fromImage)
			}
		}()
		for _, e := range entries {
			if e.Project == nil {
				continue
			}
			for _, pod := range e.Project.Pods {
				name := e.Name // a file's only pod, as before several per file
				if pod.ID != "" {
					name += "/" + pod.Service()
				}
				fmt.Fprintf(out, "%s\t%s\n", name, units.PodHash(pod))
			}
			for i := range e.Project.Services {
				s := &e.Project.Services[i]
				fmt.Fprintf(out, "%s/%s\t%s\n", e.Name, s.Name, s.Hash())
				if s.ImageHealth != nil {
					fromImage++
				}
			}
		}
	default:
		var ok []*yaml.Node
		for i, e := range entries {
			if e.Err == nil {
				ok = append(ok, docs[i])
			}
		}
		if err := writeModel(out, o.Format, ok); err != nil {
			return err
		}
	}
	switch {
	case errs > 0:
		return &exitError{code: 1, err: fmt.Errorf("%d of %d projects have errors", errs, len(entries))}
	case o.Strict && warns > 0:
		return &exitError{code: 1, err: fmt.Errorf("%d warnings (--strict)", warns)}
	}
	return nil
}

// loadOffline loads what args name, or the whole config dir, with the
// loaders alone: no systemd, no image store, no state dir. It returns
// berth.yaml's settings too, whose unknown keys are warnings. An argument
// holding a path separator or ending in .yaml/.yml is a path to one entry.
func loadOffline(ctx context.Context, g *globalOptions, args []string) ([]model.Entry, *settings.Settings, error) {
	st, err := loadSettings(g.ConfigDir)
	if err != nil {
		return nil, nil, err
	}
	opts := append(composeOptions(st), compose.WithKubeLoader(kube.NewLoader().Load), compose.WithUnitCheck(units.CheckProperty))
	var names []string
	var out []model.Entry
	for _, a := range args {
		if isPathArg(a) {
			if e := compose.LoadEntry(ctx, a, opts...); e.Err != nil || e.Project != nil {
				out = append(out, e) // else Kubernetes data for other files: nothing to show
			}
		} else {
			names = append(names, a)
		}
	}
	if len(names) == 0 && len(args) > 0 {
		return out, st, nil
	}
	all, err := compose.LoadDir(ctx, g.ConfigDir, opts...)
	if err != nil {
		return nil, nil, err
	}
	if len(names) == 0 {
		return all, st, nil
	}
	for _, n := range names {
		if !hasEntry(all, n) {
			return nil, nil, fmt.Errorf("no project %q in %s", n, g.ConfigDir)
		}
		for _, e := range all {
			if e.Name == n {
				out = append(out, e)
			}
		}
	}
	return out, st, nil
}

func isPathArg(a string) bool {
	return strings.ContainsRune(a, os.PathSeparator) || a == "." || a == ".." ||
		strings.HasSuffix(a, ".yaml") || strings.HasSuffix(a, ".yml")
}

// prepareOffline fills in network addresses as apply would on an empty
// host, in a scratch state dir it removes again, so that hashes match
// apply's. Projects joining a network no loaded project declares cannot be
// allocated offline: they keep their model and are returned with why.
func prepareOffline(ctx context.Context, entries []model.Entry) (map[string]string, error) {
	tmp, err := os.MkdirTemp("", "berth-config-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	kept := make([]*model.Project, len(entries))
	for i := range entries {
		kept[i] = entries[i].Project
	}
	// The allocator apply uses, reserving as apply does, in the scratch dir.
	alloc := network.Allocator{Paths: network.Paths{StateDir: tmp, RunDir: tmp}}
	if err := alloc.Allocate(ctx, entries, nil, true); err != nil {
		return nil, err
	}
	unchecked := map[string]string{}
	for i := range entries {
		e := &entries[i]
		if kept[i] != nil && e.Project == nil && joinsExternal(kept[i]) {
			unchecked[e.Name] = fmt.Sprintf("it joins an external network (%v)", errors.Unwrap(e.Err))
			e.Project, e.Err = kept[i], nil
		}
	}
	return unchecked, nil
}

func joinsExternal(p *model.Project) bool {
	for _, n := range p.Networks {
		if n.External {
			return true
		}
	}
	return false
}

// modelNode is p as a YAML tree in the model's field order (maps
// sorted), secret contents redacted: this output ends up in CI logs.
func modelNode(p *model.Project) (*yaml.Node, error) {
	// Through JSON, so the output shows the model's own field names.
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return nil, err
	}
	redactSecrets(&n)
	return &n, nil
}

// writeModel writes the projects as YAML documents, or one JSON array.
func writeModel(w io.Writer, format string, docs []*yaml.Node) error {
	if format == "json" {
		all := []any{}
		for _, n := range docs {
			var v any
			if err := n.Decode(&v); err != nil {
				return err
			}
			all = append(all, v)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(all)
	}
	if len(docs) == 0 {
		return nil // an empty YAML stream: the encoder would fail on Close
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	for _, n := range docs {
		blockStyle(n)
		if err := enc.Encode(n); err != nil {
			return err
		}
	}
	return enc.Close()
}

// redacted replaces a secret's content in config's output.
const redacted = "<redacted>"

// redactSecrets replaces the content of every mapping that says
// secret: true.
func redactSecrets(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		secret := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "secret" && n.Content[i+1].Value == "true" {
				secret = true
			}
		}
		for i := 0; secret && i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "content" {
				n.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: redacted}
			}
		}
	}
	for _, c := range n.Content {
		redactSecrets(c)
	}
}

// blockStyle drops the flow style and quotes that parsing JSON left, so
// the encoder writes block YAML. Strings YAML 1.1 reads as booleans (no,
// on …) stay quoted, for readers older than yaml.v3.
func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && yaml11Bool[strings.ToLower(n.Value)] {
		n.Style = yaml.DoubleQuotedStyle
	} else {
		n.Style = 0
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

var yaml11Bool = map[string]bool{"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true, "true": true, "false": true}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/berth-dev/berth/autoupdate"
	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/runtime/image"
	"github.com/berth-dev/berth/units"
	"github.com/spf13/cobra"
)

type autoUpdateOptions struct {
	DryRun   bool
	Format   string
	Parallel int
}

// errUpdateNotImplemented is returned without --dry-run: only the check half
// of auto-update exists, and berth must not pretend it updated anything.
var errUpdateNotImplemented = errors.New("auto-update: updating is not implemented yet; use --dry-run to see what would be updated")

// autoUpdateRow is one line of `berth auto-update --dry-run`; its JSON form is
// the --format json output.
type autoUpdateRow struct {
	Unit    string `json:"unit"`
	Project string `json:"project"`
	Service string `json:"service"`
	Image   string `json:"image"`
	Policy  string `json:"policy"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Result  string `json:"result"`
	Error   string `json:"error,omitempty"`
}

func newAutoUpdateCommand(g *globalOptions) *cobra.Command {
	o := &autoUpdateOptions{}
	cmd := &cobra.Command{
		Use:   "auto-update",
		Short: "Check which services run an older image than their policy names",
		Long: `auto-update compares the image digest each berth service runs with the digest
its policy names: the registry's for the tag (label io.containers.autoupdate=registry,
one HEAD request per distinct image) or the local image store's (=local).
Services without the label are not updated; images pinned by digest never are.

Only --dry-run is implemented: it reports and changes nothing. It exits 1 when
any check failed.`,
		Example: `  berth auto-update --dry-run
  berth auto-update --dry-run --format json | jq '.[] | select(.result == "pending")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAutoUpdate(cmd.Context(), g, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.DryRun, "dry-run", false, "only report what would be updated")
	f.StringVar(&o.Format, "format", "table", "output format: table or json")
	f.IntVar(&o.Parallel, "parallel", 4, "registry requests in flight at most")
	return cmd
}

func runAutoUpdate(ctx context.Context, g *globalOptions, o *autoUpdateOptions, out io.Writer) error {
	if o.Format != "table" && o.Format != "json" {
		return fmt.Errorf("unknown format %q (valid: table, json)", o.Format)
	}
	if !o.DryRun {
		return errUpdateNotImplemented
	}
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	targets, broken, err := autoUpdateTargets(ctx, a, g)
	if err != nil {
		return err
	}
	results := append(autoupdate.Check(ctx, targets, imageResolver{a.store}, o.Parallel), broken...)
	sort.Slice(results, func(i, j int) bool { return results[i].Unit < results[j].Unit })
	if err := printAutoUpdate(out, o.Format, results); err != nil {
		return err
	}
	if autoupdate.Failed(results) {
		return errors.New("auto-update: some checks failed")
	}
	return nil
}

// autoUpdateTargets lists berth's units and pairs each with the frozen spec it
// runs (found by its spec hash, so edits not yet applied do not count) and the
// digest its container was started from. Units whose spec cannot be read come
// back as failed results, so they are reported and block nothing.
func autoUpdateTargets(ctx context.Context, a *app, g *globalOptions) ([]autoupdate.Target, []autoupdate.Result, error) {
	us, err := a.sd.List(ctx, units.Prefix)
	if err != nil {
		return nil, nil, err
	}
	var targets []autoupdate.Target
	var broken []autoupdate.Result
	for _, u := range us {
		project, service, hash := u.Environment[units.EnvProject], u.Environment[units.EnvService], u.Environment[units.EnvHash]
		if project == "" || service == "" {
			continue // not made by berth
		}
		svc, err := runningSpec(g.StateDir, project, service, hash)
		if err != nil {
			broken = append(broken, autoupdate.Result{
				Unit: u.Name, Service: &compose.Service{Project: project, Name: service},
				Image: u.Environment[units.EnvImage], Status: autoupdate.StatusFailed, Err: err,
			})
			continue
		}
		t := autoupdate.Target{Unit: u.Name, Service: svc}
		if st, err := runtime.ReadState(g.RunDir, svc.ID()); err == nil {
			t.RunningDigest = st.Digest
		} else {
			a.log.Debug("no container state", "unit", u.Name, "err", err)
		}
		targets = append(targets, t)
	}
	return targets, broken, nil
}

// runningSpec loads the spec a unit was created with: compose.SpecPath names
// it by the service's hash, which the unit carries in its environment.
func runningSpec(stateDir, project, service, hash string) (*compose.Service, error) {
	if hash == "" {
		return nil, fmt.Errorf("unit of %s/%s carries no spec hash", project, service)
	}
	id := (&compose.Service{Project: project, Name: service}).ID()
	path := filepath.Join(stateDir, "specs", id+"-"+hash+".json")
	svc, err := compose.LoadSpec(path)
	if err != nil {
		return nil, fmt.Errorf("loading the spec %s/%s runs: %w", project, service, err)
	}
	if got := compose.SpecPath(stateDir, svc); got != path {
		return nil, fmt.Errorf("spec %s does not match its unit (it hashes to %s)", path, got)
	}
	return svc, nil
}

func printAutoUpdate(out io.Writer, format string, results []autoupdate.Result) error {
	rows := make([]autoUpdateRow, 0, len(results))
	for _, r := range results {
		row := autoUpdateRow{Unit: r.Unit, Image: r.Image, Policy: string(r.Policy), From: r.From, To: r.To, Result: string(r.Status)}
		if r.Service != nil {
			row.Project, row.Service = r.Service.Project, r.Service.Name
		}
		if r.Err != nil {
			row.Error = r.Err.Error()
		}
		rows = append(rows, row)
	}
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UNIT\tSERVICE\tIMAGE\tPOLICY\tFROM→TO\tRESULT")
	for _, r := range rows {
		result := r.Result
		if r.Error != "" {
			result += ": " + r.Error
		}
		fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s\t%s→%s\t%s\n", r.Unit, r.Project, r.Service, r.Image, dash(r.Policy),
			shortDigest(r.From), shortDigest(r.To), result)
	}
	return tw.Flush()
}

// imageResolver lets auto-update ask the registry (one HEAD) and the local
// image store through the interfaces it defines.
type imageResolver struct{ s *image.Store }

var (
	_ autoupdate.Resolver      = imageResolver{}
	_ autoupdate.LocalResolver = imageResolver{}
)

func (r imageResolver) Resolve(ctx context.Context, ref string) (string, error) {
	return r.s.Resolve(ctx, ref)
}

func (r imageResolver) LocalDigest(ctx context.Context, ref string) (string, error) {
	img, err := r.s.Get(ctx, ref)
	if err != nil {
		return "", err
	}
	return img.Digest, nil
}

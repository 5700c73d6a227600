package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
)

// pullOptions are what `berth pull` is asked: the projects whose images to
// pull (all when none).
type pullOptions struct {
	Projects []string
}

func newPullCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "pull [PROJECT...]",
		Short: "Pull the images of every service (or of the named projects)",
		Long: `pull fetches each distinct image the config dir uses into berth's image
store, without touching any unit, and prints the digest it resolved. Running
containers keep their image until they are recreated (apply, the agent, or
auto-update). Exit status 1 when any image failed; the others are pulled.`,
		Example: `  berth pull
  berth pull hello && berth apply hello`,
		ValidArgsFunction: completeProjects(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPull(cmd.Context(), g, pullOptions{Projects: args}, cmd.OutOrStdout())
		},
	}
}

func runPull(ctx context.Context, g *globalOptions, o pullOptions, out io.Writer) error {
	a, err := newApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	entries, err := a.load(ctx, g.ConfigDir)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, p := range o.Projects {
		if !hasEntry(entries, p) {
			return fmt.Errorf("no project %q in %s", p, g.ConfigDir)
		}
		want[p] = true
	}
	var errs []error
	refs := map[string]bool{}
	for _, e := range entries {
		if len(want) > 0 && !want[e.Name] {
			continue
		}
		if e.Err != nil {
			errs = append(errs, e.Err)
			continue
		}
		for _, s := range e.Project.Services {
			refs[s.Image] = true
		}
	}
	sorted := make([]string, 0, len(refs))
	for r := range refs {
		sorted = append(sorted, r)
	}
	sort.Strings(sorted)
	for _, ref := range sorted {
		img, err := a.store.Pull(ctx, ref)
		if err != nil {
			fmt.Fprintf(out, "%s: failed: %v\n", ref, err)
			errs = append(errs, fmt.Errorf("pulling %s: %w", ref, err))
			continue
		}
		fmt.Fprintf(out, "%s: %s\n", ref, img.Digest)
	}
	return errors.Join(errs...)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/berth-dev/berth/reconciler"
)

// runPlanOffline is `berth plan --offline`: the plan against a host that
// runs nothing, so every service is a create, in the order apply starts
// them. Like berth config it loads with the loaders alone and allocates
// addresses in a scratch directory: no systemd, no root, no state dir.
func runPlanOffline(ctx context.Context, g *globalOptions, o *planOptions, args []string, out, errOut io.Writer) error {
	entries, _, err := loadOffline(ctx, g, args)
	if err != nil {
		return err
	}
	if _, err := prepareOffline(ctx, entries); err != nil {
		return err
	}
	fmt.Fprintln(errOut, offlineNote)
	// Entries are already the ones args named; no units are observed.
	p := reconciler.MakePlan(entries, nil, nil)
	if o.Format == "json" {
		if err := printPlanJSON(out, p); err != nil {
			return err
		}
	} else {
		printProjectNames(out, entries)
		printPlan(out, p, true)
	}
	if err := errors.Join(p.Errors...); err != nil {
		return err
	}
	if o.DetailedExitCode && p.HasChanges() {
		return &exitError{code: 2, err: errors.New("there are changes")}
	}
	return nil
}

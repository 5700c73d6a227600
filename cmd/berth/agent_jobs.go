package main

import "github.com/berth-dev/berth/reconciler"

// agentJobs are the periodic jobs `berth agent` runs next to reconciling
// (the auto-update check on its cron schedule, for one). Each job's last
// result and next run show in `berth status`.
func agentJobs(a *app) []reconciler.Job {
	_ = a
	return nil
}

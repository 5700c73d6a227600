package main

import (
	"context"
	"time"

	"github.com/berth-dev/berth/reconciler"
)

// agentJobs are the periodic jobs `berth agent` runs next to reconciling:
// auto-update on the cron schedule of berth.yaml (autoupdate.schedule,
// default daily at a random moment in the quarter hour after midnight;
// "off" for none). Each job's last result and next run show in `berth
// status`. A bad schedule is reported there and in the journal, once; the
// agent keeps reconciling.
func agentJobs(a *app) []reconciler.Job {
	if a.settings.AutoUpdate.Schedule == "off" {
		return nil
	}
	s, err := a.autoUpdateScheduler()
	if err != nil {
		a.log.Error("auto-update is not scheduled", "err", err)
		reported := false
		return []reconciler.Job{{
			Name: "auto-update",
			Next: func(now time.Time) time.Time {
				if reported {
					return time.Time{}
				}
				reported = true
				return now
			},
			Run: func(context.Context) (string, error) { return "", err },
		}}
	}
	return []reconciler.Job{{Name: "auto-update", Next: s.Next, Run: s.RunOnce}}
}

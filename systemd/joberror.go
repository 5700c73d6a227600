package systemd

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrJobFailed is wrapped by errors of jobs that did not end "done".
var ErrJobFailed = errors.New("systemd job failed")

// JobError is a start, stop or restart job that did not end "done". Its
// message is the unit's own explanation when one was found — for berth's
// units, berth-launcher's error, such as "nft not found in $PATH: install
// Debian package nftables" — and systemd's bare "job failed" otherwise.
type JobError struct {
	Verb   string // starting, stopping, restarting
	Unit   string
	Job    int    // systemd's job ID (JOB_ID= in the journal)
	Result string // failed, timeout, dependency, canceled …
	// Reason is what the unit logged about the failure, from the
	// Explainer; ReasonErr is why none could be read.
	Reason    []string
	ReasonErr error
}

func (e *JobError) Error() string {
	msg := fmt.Sprintf("%s unit %s: job %s: ", e.Verb, e.Unit, e.Result)
	switch {
	case len(e.Reason) > 0:
		return msg + strings.Join(e.Reason, "; ")
	case e.ReasonErr != nil:
		return msg + fmt.Sprintf("%v (reading the reason from the journal: %v)", ErrJobFailed, e.ReasonErr)
	}
	return msg + ErrJobFailed.Error()
}

func (e *JobError) Unwrap() error { return ErrJobFailed }

// Explainer finds why a job failed; systemd/journal.Reader reads it from
// the journal. It is an interface so that this package stays a D-Bus
// client.
type Explainer interface {
	// JobReason returns the lines that explain why job of unit ended
	// with result.
	JobReason(ctx context.Context, unit string, job int, result string) ([]string, error)
}

// Package journal reads from the systemd journal, through journalctl, why a
// unit failed: the error its own processes logged (berth-launcher marks its
// final error line with priority err), found by the failed job's ID or by
// the unit's invocation ID. It is the I/O half of failure reports; package
// systemd stays a D-Bus client and asks for reasons through its Explainer.
package journal

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"time"
)

// Reader runs journalctl (package systemd on Debian, in the Makefile's
// DEB_PACKAGES) against the local journal.
type Reader struct {
	// Wait bounds how long a reason is waited for: journald stores a
	// unit's output asynchronously, so the job's result may arrive before
	// the lines that explain it. 0 means DefaultWait.
	Wait time.Duration
	// Lines is the most lines a reason has; 0 means DefaultLines.
	Lines int
}

// DefaultWait and DefaultLines are Reader's defaults.
const (
	DefaultWait  = 3 * time.Second
	DefaultLines = 5
)

// pollInterval is how often the journal is read again while waiting.
const pollInterval = 100 * time.Millisecond

// JobReason returns why systemd job job of unit ended with result (as
// D-Bus reported it: failed, timeout …): the job's done message in the
// journal (JOB_ID=, JOB_RESULT=) names the invocation it ended, and pick
// chooses from that invocation's lines. A restart job logs a done message
// for its stop half too; the result tells them apart.
func (r Reader) JobReason(ctx context.Context, unit string, job int, result string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.wait())
	defer cancel()
	var invocation string
	for invocation == "" {
		es, err := r.read(ctx, "--unit", unit, "JOB_ID="+strconv.Itoa(job), "JOB_RESULT="+result)
		if err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("no journal entry for job %d of %s: %w", job, unit, ctx.Err())
		}
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if id := e.field("INVOCATION_ID"); id != "" {
				invocation = id
			}
		}
		if invocation == "" {
			if err := sleep(ctx); err != nil {
				return nil, fmt.Errorf("no journal entry for job %d of %s: %w", job, unit, err)
			}
		}
	}
	return r.invocationReason(ctx, invocation)
}

// unitFailedID is the MESSAGE_ID of systemd's "UNIT: Failed with result
// 'R'." (SD_MESSAGE_UNIT_FAILURE_RESULT), logged whenever a run of a unit
// ends in failure: a failed start, a crashed main process, a timeout.
const unitFailedID = "d9b373ed55a64feb8242e02dbe79a49c"

// UnitReason returns why the last failed run of unit failed (see pick),
// and nil if the journal has no failed run of it. Unlike JobReason it
// does not wait: the run ended earlier (`berth status` asks about a unit
// that is failed, or restarting after a failure), so its lines are there.
func (r Reader) UnitReason(ctx context.Context, unit string) ([]string, error) {
	es, err := r.read(ctx, "--unit", unit, "--lines=1", "MESSAGE_ID="+unitFailedID)
	if err != nil || len(es) == 0 {
		return nil, err
	}
	invocation := es[len(es)-1].field("INVOCATION_ID")
	if invocation == "" {
		return nil, nil
	}
	es, err = r.read(ctx, invocationMatches(invocation)...)
	if err != nil {
		return nil, err
	}
	lines, _ := pick(es, r.lines())
	return lines, nil
}

// invocationMatches select the lines of the unit's processes in one
// invocation, and PID 1's messages about it (such as a missing executable).
func invocationMatches(invocation string) []string {
	return []string{"_SYSTEMD_INVOCATION_ID=" + invocation, "+", "INVOCATION_ID=" + invocation}
}

// invocationReason reads the invocation's entries until they hold an error
// line of the unit's own processes, or ctx ends; then picks the reason
// from what there is.
func (r Reader) invocationReason(ctx context.Context, invocation string) ([]string, error) {
	var lines []string
	for {
		es, err := r.read(ctx, invocationMatches(invocation)...)
		if err != nil {
			if ctx.Err() != nil {
				return lines, nil
			}
			return nil, err
		}
		var final bool
		lines, final = pick(es, r.lines())
		if final || sleep(ctx) != nil {
			return lines, nil
		}
	}
}

// read runs journalctl with matches and returns its entries, oldest first.
func (r Reader) read(ctx context.Context, matches ...string) ([]entry, error) {
	args := append([]string{"--no-pager", "--quiet", "--output=json",
		"--output-fields=MESSAGE,PRIORITY,_PID,INVOCATION_ID,JOB_RESULT"}, matches...)
	out, err := exec.CommandContext(ctx, "journalctl", args...).Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			return nil, fmt.Errorf("journalctl: %w: %s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("journalctl: %w", err)
	}
	return parse(out)
}

func (r Reader) wait() time.Duration {
	if r.Wait > 0 {
		return r.Wait
	}
	return DefaultWait
}

func (r Reader) lines() int {
	if r.Lines > 0 {
		return r.Lines
	}
	return DefaultLines
}

func sleep(ctx context.Context) error {
	select {
	case <-time.After(pollInterval):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package model

import (
	"fmt"
	"strings"
	"time"
)

// ImageHealthcheck is an image config's HEALTHCHECK as docker writes it
// (nanosecond durations, StartInterval included); the image store reads it
// and Health converts it.
type ImageHealthcheck struct {
	Test          []string      `json:"Test"`
	Interval      time.Duration `json:"Interval"`
	Timeout       time.Duration `json:"Timeout"`
	StartPeriod   time.Duration `json:"StartPeriod"`
	StartInterval time.Duration `json:"StartInterval"`
	Retries       int           `json:"Retries"`
}

// Health converts docker's HEALTHCHECK to the model: nil for none, an empty
// test or NONE; CMD runs its arguments, CMD-SHELL one shell command.
func (hc *ImageHealthcheck) Health() (*Health, error) {
	if hc == nil || len(hc.Test) == 0 {
		return nil, nil
	}
	positive := func(d time.Duration) time.Duration { return max(d, 0) }
	h := &Health{
		Interval:      positive(hc.Interval),
		Timeout:       positive(hc.Timeout),
		StartPeriod:   positive(hc.StartPeriod),
		StartInterval: positive(hc.StartInterval),
		Retries:       max(hc.Retries, 0),
	}
	switch hc.Test[0] {
	case "NONE":
		return nil, nil
	case "CMD":
		if len(hc.Test) < 2 {
			return nil, fmt.Errorf("HEALTHCHECK CMD has no command")
		}
		h.Cmd = append([]string{}, hc.Test[1:]...)
	case "CMD-SHELL":
		if len(hc.Test) < 2 {
			return nil, fmt.Errorf("HEALTHCHECK CMD-SHELL has no command")
		}
		h.Shell, h.Cmd = true, []string{strings.Join(hc.Test[1:], " ")}
	default:
		return nil, fmt.Errorf("HEALTHCHECK test must start with CMD, CMD-SHELL or NONE, got %q", hc.Test[0])
	}
	return h, nil
}

// SettleEntriesImageHealth runs SettleImageHealth on the project of every
// entry that loaded, reading each distinct image through lookup once for
// all of them. A project that fails becomes a failed entry, as a file that
// does not load: Err names the entry's path, Project is nil, so its running
// units stay as they are. It returns the indices of those entries.
func SettleEntriesImageHealth(entries []Entry, lookup func(image string) (*Health, error)) (failed []int) {
	type result struct {
		h   *Health
		err error
	}
	cache := map[string]result{}
	cached := func(ref string) (*Health, error) {
		r, ok := cache[ref]
		if !ok {
			r.h, r.err = lookup(ref)
			cache[ref] = r
		}
		return r.h, r.err
	}
	for i := range entries {
		e := &entries[i]
		if e.Project == nil || e.Err != nil {
			continue
		}
		if err := e.Project.SettleImageHealth(cached); err != nil {
			e.Err = fmt.Errorf("%s: %w", e.Path, err)
			e.Project = nil
			failed = append(failed, i)
		}
	}
	return failed
}

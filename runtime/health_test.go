package runtime

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// TestHealthRecordRules: docker's rules for a probe's status.
func TestHealthRecordRules(t *testing.T) {
	h := &model.Health{Retries: 2}
	pass, fail := probeResult{code: 0, output: "ok"}, probeResult{code: 1, output: "no"}
	ps := &ProbeStatus{Status: HealthStarting}

	// During the start period failures before the first pass do not count.
	record(ps, h, fail, true)
	record(ps, h, fail, true)
	if ps.Status != HealthStarting || ps.FailingStreak != 0 {
		t.Fatalf("start period: %+v", ps)
	}
	record(ps, h, pass, true)
	if ps.Status != HealthHealthy || ps.LastOutput != "ok" {
		t.Fatalf("after a pass: %+v", ps)
	}
	// After the first pass, failures count even within the start period.
	record(ps, h, fail, true)
	if ps.Status != HealthHealthy || ps.FailingStreak != 1 {
		t.Fatalf("one failure: %+v", ps)
	}
	record(ps, h, fail, false)
	if ps.Status != HealthUnhealthy || ps.FailingStreak != 2 || ps.LastExitCode != 1 {
		t.Fatalf("retries reached: %+v", ps)
	}
	record(ps, h, pass, false)
	if ps.Status != HealthHealthy || ps.FailingStreak != 0 {
		t.Fatalf("recovered: %+v", ps)
	}

	// Without a start period the first failures count; default retries 3.
	ps = &ProbeStatus{Status: HealthStarting}
	for range 3 {
		record(ps, &model.Health{}, fail, false)
	}
	if ps.Status != HealthUnhealthy {
		t.Fatalf("default retries: %+v", ps)
	}
}

func TestInStartPeriod(t *testing.T) {
	start := time.Now()
	h := &model.Health{StartPeriod: time.Minute}
	if !inStartPeriod(h, start, start.Add(time.Second)) || inStartPeriod(h, start, start.Add(2*time.Minute)) {
		t.Error("start period bounds")
	}
	if inStartPeriod(&model.Health{}, start, start) {
		t.Error("no start period")
	}
}

func TestLimitedBuffer(t *testing.T) {
	b := &limitedBuffer{max: 4}
	n, err := b.Write([]byte("abcdef"))
	if n != 6 || err != nil || b.String() != "abcd" {
		t.Errorf("wrote %d %v, kept %q", n, err, b.String())
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type statsJSON struct {
	Service string  `json:"service"`
	Memory  uint64  `json:"memory_bytes"`
	Limit   uint64  `json:"memory_limit_bytes"`
	MemPct  float64 `json:"memory_percent"`
	PIDs    uint64  `json:"pids"`
	CPU     float64 `json:"cpu_percent"`
}

type topJSON struct {
	Service   string `json:"service"`
	Processes []struct {
		PID          int    `json:"pid"`
		ContainerPID int    `json:"container_pid"`
		User         string `json:"user"`
		Command      string `json:"command"`
		RSS          uint64 `json:"rss_bytes"`
	} `json:"processes"`
}

// TestTopAndStats: top lists the container's processes with their PIDs
// inside and outside, and stats reports a memory usage (against the
// service's 64m limit) that rises when the service allocates 30 MiB.
func TestTopAndStats(t *testing.T) {
	e := startOps(t)
	stats := func() statsJSON {
		t.Helper()
		var rows []statsJSON
		out := e.mustBerth("stats", "--no-stream", "--format", "json", "ops")
		if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("stats --format json: %v\n%s", err, out)
		}
		return rows[0]
	}
	before := stats()
	t.Logf("before: %+v", before)
	if before.Service != "ops/web" || before.Limit != 64<<20 || before.PIDs < 1 {
		t.Errorf("stats before: %+v, want ops/web with a 64 MiB limit and ≥ 1 PID", before)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// tail keeps what it read until EOF; the sleep holds the pipe open.
	hog := e.sb.Command(ctx, "env", e.bin, "--config-dir", e.config, "--state-dir", e.state,
		"exec", "ops/web", "sh", "-c", "(head -c 30m /dev/zero; sleep 100) | tail")
	if err := hog.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hog.Process.Kill(); _ = hog.Wait() }()
	var after statsJSON
	e.eventually(30*time.Second, "memory usage to rise by 20 MiB", func() bool {
		after = stats()
		return after.Memory > before.Memory+20<<20
	})
	t.Logf("after: %+v", after)
	if after.MemPct < 40 || after.PIDs < before.PIDs+3 {
		t.Errorf("stats after allocating: %+v, want ≥ 40%% of the limit and the exec's 3+ processes", after)
	}

	var top []topJSON
	out := e.mustBerth("top", "--format", "json", "ops/web")
	if err := json.Unmarshal([]byte(out), &top); err != nil || len(top) != 1 {
		t.Fatalf("top --format json: %v\n%s", err, out)
	}
	mainPID := e.mainPID(opsWeb)
	var sawMain, sawTail bool
	for _, p := range top[0].Processes {
		if p.PID == mainPID && p.ContainerPID == 1 && p.Command == "sleep 1000" && p.User == "root" {
			sawMain = true
		}
		if p.Command == "tail" && p.ContainerPID > 1 && p.RSS > 10<<20 {
			sawTail = true
		}
	}
	if !sawMain || !sawTail {
		t.Errorf("top lacks PID 1 (host pid %d, sleep 1000) or the exec'd tail holding > 10 MiB:\n%s", mainPID, out)
	}
	var ls []struct {
		Name, Status string
		ConfigFile   string `json:"config_file"`
	}
	out = e.mustBerth("ls", "--format", "json")
	if err := json.Unmarshal([]byte(out), &ls); err != nil || len(ls) != 1 ||
		ls[0].Name != "ops" || ls[0].Status != "running(1)" || !strings.HasSuffix(ls[0].ConfigFile, "ops") && !strings.HasSuffix(ls[0].ConfigFile, "compose.yaml") {
		t.Errorf("berth ls: %v\n%s", err, out)
	}
	table := e.mustBerth("top", "ops")
	t.Logf("berth top ops:\n%s", table)
	if !strings.Contains(table, "ops/web (berth-ops-web.service)") || !strings.Contains(table, "sleep 1000") {
		t.Errorf("top's table lacks the service or its command:\n%s", table)
	}
}

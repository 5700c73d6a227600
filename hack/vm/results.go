package vm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// newResultsDisk makes the empty ext4 disk the guest writes its results to.
func newResultsDisk(ctx context.Context, image string) error {
	os.Remove(image)
	out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-L", "results", image, "256M").CombinedOutput()
	if err != nil {
		return fmt.Errorf("mkfs.ext4 %s: %w\n%s", image, err, out)
	}
	return nil
}

// readResults copies the guest's /out from the results disk into dir with
// debugfs (no mount needed) and returns dir/out.
func readResults(ctx context.Context, image, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "debugfs", "-R", "rdump /out "+dir, image).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("debugfs rdump: %w\n%s", err, out)
	}
	res := filepath.Join(dir, "out")
	if _, err := os.Stat(res); err != nil {
		return "", fmt.Errorf("the guest wrote no results (%s): %s", err, out)
	}
	return res, nil
}

// event is one line of `go tool test2json` output.
type event struct {
	Action  string
	Test    string
	Output  string
	Elapsed float64
}

// testResult is one guest test or subtest.
type testResult struct {
	name   string // full name, e.g. TestBoot1/Example
	action string // pass, fail, skip; "" when the test never ended
	output strings.Builder
}

// parseGuestOutput converts the guest's raw `-test.v=test2json` output
// into results in the order the tests started.
func parseGuestOutput(ctx context.Context, raw []byte) ([]*testResult, error) {
	cmd := exec.CommandContext(ctx, "go", "tool", "test2json")
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool test2json: %w", err)
	}
	var order []*testResult
	byName := map[string]*testResult{}
	s := bufio.NewScanner(bytes.NewReader(out))
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		var e event
		if json.Unmarshal(s.Bytes(), &e) != nil || e.Test == "" {
			continue
		}
		r := byName[e.Test]
		if r == nil {
			r = &testResult{name: e.Test}
			byName[e.Test] = r
			order = append(order, r)
		}
		switch e.Action {
		case "output":
			r.output.WriteString(e.Output)
		case "pass", "fail", "skip":
			r.action = e.Action
		}
	}
	return order, s.Err()
}

// replay reports each guest result as a subtest of t with the same name
// (under the guest's top-level test), so `go test -v` shows the guest's
// tests as if they ran here. A guest skip is a failure: the VM suite has
// no optional parts.
func replay(t *testing.T, results []*testResult) {
	for _, r := range results {
		t.Run(r.name, func(t *testing.T) {
			switch r.action {
			case "pass":
				if strings.Count(r.name, "/") == 0 {
					return // its subtests carry the output
				}
				t.Log("\n" + r.output.String())
			case "fail":
				t.Error("failed in the VM:\n" + r.output.String())
			case "skip":
				t.Error("skipped in the VM (the VM suite skips nothing):\n" + r.output.String())
			default:
				t.Error("never finished in the VM:\n" + r.output.String())
			}
		})
	}
}

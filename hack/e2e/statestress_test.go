package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// stressProject has two quick-stopping services that auto-update watches.
const stressProject = `services:
  web:
    image: REG/stress:latest
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    labels:
      io.containers.autoupdate: registry
    x-berth:
      soak: 1s
  worker:
    image: REG/busybox:latest
    command: [sleep, "3600"]
    stop_signal: SIGKILL
`

// stressCorrupt are what a command says when it read a state file that a
// concurrent writer left half-written.
var stressCorrupt = []string{"unexpected end of JSON", "invalid character", "decoding ", "parsing "}

// TestStateFilesUnderConcurrency: apply, down, auto-update and the agent's
// pass (agent --once) run concurrently in a loop, with the file changing
// and new digests pushed under them; none reads a torn state file, a final
// apply converges, and afterwards every JSON and JSON-lines file under the
// state dir parses and no temp file is left behind.
func TestStateFilesUnderConcurrency(t *testing.T) {
	e := newBerthEnv(t)
	e.pushImage("stress:latest", WithEnv("GEN=0"))
	project := strings.ReplaceAll(stressProject, "REG", e.registry)
	e.writeProject("st", project)
	e.writeProject("other", "services:\n"+e.agentService("db", ""))
	e.mustBerth("apply")

	var (
		mu   sync.Mutex
		runs = map[string]int{}
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(5 * time.Second)
	loop := func(name string, step func(i int) []string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// At least three rounds each: the commands mostly wait for
			// one another's lock, so few fit in the window.
			for i := 0; i < 3 || time.Now().Before(deadline); i++ {
				args := step(i)
				if args == nil {
					continue
				}
				out, _ := e.berth(args...) // failures are allowed (a unit stopped under apply); torn files are not
				for _, bad := range stressCorrupt {
					if strings.Contains(out, bad) {
						t.Errorf("berth %s read a torn state file (%q):\n%s", strings.Join(args, " "), bad, out)
					}
				}
				mu.Lock()
				runs[name]++
				mu.Unlock()
			}
		}()
	}
	loop("apply", func(int) []string { return []string{"apply"} })
	loop("down", func(int) []string { return []string{"down", "st"} })
	loop("auto-update", func(int) []string { return []string{"auto-update"} })
	loop("agent", func(int) []string { return []string{"agent", "--once"} })
	changes := func(i int) []string {
		// A new digest for auto-update and a changed file for apply.
		e.pushImage("stress:latest", WithEnv("GEN="+string(rune('a'+i%26))))
		e.writeProject("st", strings.Replace(project, `"3600"`, `"36`+string(rune('0'+i%10))+`0"`, 1))
		time.Sleep(300 * time.Millisecond)
		return nil
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; time.Now().Before(deadline); i++ {
			changes(i)
		}
	}()
	wg.Wait()
	t.Logf("runs in %s: %v", time.Since(start).Round(time.Millisecond), runs)

	e.mustBerth("apply")
	if plan := e.mustBerth("plan"); !strings.Contains(plan, "No changes.") {
		t.Errorf("plan after the final apply:\n%s", plan)
	}
	stressCheckStateDir(t, e.state)
}

// stressCheckStateDir checks that every .json file under dir parses, every
// .jsonl file parses line by line, and no temp file is left: paths.WriteFile's
// .NAME.tmp* and the image store's tmp/ entries.
func stressCheckStateDir(t *testing.T, dir string) {
	t.Helper()
	var jsonFiles, lines int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp") {
			t.Errorf("temp file left behind: %s", path)
		}
		if filepath.Dir(path) == filepath.Join(dir, "images", "tmp") {
			t.Errorf("temp entry left behind: %s", path)
		}
		if d.IsDir() {
			return nil
		}
		switch {
		case strings.HasSuffix(name, ".json"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if !json.Valid(b) {
				t.Errorf("%s does not parse:\n%.300s", path, b)
			}
			jsonFiles++
		case strings.HasSuffix(name, ".jsonl"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sc := bufio.NewScanner(bytes.NewReader(b))
			sc.Buffer(nil, 1<<20)
			for n := 1; sc.Scan(); n++ {
				if !json.Valid(sc.Bytes()) {
					t.Errorf("%s:%d does not parse: %.300s", path, n, sc.Bytes())
				}
				lines++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if jsonFiles < 5 {
		t.Errorf("only %d JSON files under %s: the walk missed the state", jsonFiles, dir)
	}
	t.Logf("%d JSON files and %d JSON lines parse", jsonFiles, lines)
}

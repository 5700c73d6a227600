package runtime

import (
	"os"
	"path/filepath"
	"testing"
)

func TestKeyedValue(t *testing.T) {
	for _, c := range []struct {
		text string
		want uint64
	}{
		{"low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n", 1}, // cgroup v2 memory.events
		{"oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", 3},                // cgroup v1 memory.oom_control
		{"low 0\nhigh 0\n", 0},
	} {
		p := filepath.Join(t.TempDir(), "events")
		if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := keyedValue(f, "oom_kill"); got != c.want {
			t.Errorf("%q: oom_kill = %d, want %d", c.text, got, c.want)
		}
		f.Close()
	}
}

package runtime

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStopSignalFor: stop-container uses the signal the container's state
// records (stop_signal, else the image's STOPSIGNAL), and the unit's
// --signal when the state records none or cannot be read.
func TestStopSignalFor(t *testing.T) {
	if got := effectiveStopSignal("", "SIGQUIT"); got != "SIGQUIT" {
		t.Errorf("image STOPSIGNAL without stop_signal: %q", got)
	}
	if got := effectiveStopSignal("SIGINT", "SIGQUIT"); got != "SIGINT" {
		t.Errorf("stop_signal wins over the image's: %q", got)
	}
	run := t.TempDir()
	write := func(id, sig string) {
		t.Helper()
		path := filepath.Join(run, "containers", id, "state.json")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := writeState(path, &State{ID: id, StopSignal: sig}); err != nil {
			t.Fatal(err)
		}
	}
	write("app-nginx", "quit")
	write("app-plain", "")
	for _, tc := range []struct{ id, want string }{
		{"app-nginx", "SIGQUIT"},
		{"app-plain", "SIGTERM"},
		{"app-gone", "SIGTERM"},
		{"", "SIGTERM"},
	} {
		if got := StopSignalFor(run, tc.id, "SIGTERM"); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.id, got, tc.want)
		}
	}
}

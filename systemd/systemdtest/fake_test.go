package systemdtest

import "testing"

// TestFakeConformance holds the Fake to what the sandboxed systemd does
// (hack/e2e TestManagerConformance runs the same suite there).
func TestFakeConformance(t *testing.T) {
	Run(t, func(*testing.T) Manager { return NewFake() })
}

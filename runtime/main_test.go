package runtime

import (
	"os"
	"testing"
)

// TestMain lets the test binary serve as libcontainer's "init" (libcontainer
// re-executes /proc/self/exe init) and as the init-reaper, as cmd/berth does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "init":
			Init()
		case ReaperCommand:
			os.Exit(Reaper(os.Args[2:]))
		}
	}
	if os.Getenv(launcherEnv) != "" {
		os.Exit(launchFromEnv())
	}
	os.Exit(m.Run())
}

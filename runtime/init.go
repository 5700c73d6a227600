package runtime

import "github.com/opencontainers/runc/libcontainer"

// Init is libcontainer's container-side setup. libcontainer re-executes
// /proc/self/exe with the argument "init"; cmd/berth's main (and any test
// binary that starts containers) must call Init when os.Args[1] == "init",
// before anything else. It does not return.
func Init() {
	libcontainer.Init()
}

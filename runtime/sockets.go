package runtime

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// listenFDsStart is the first fd systemd passes (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// inheritedSockets takes the listening sockets systemd passed to this
// launcher (LISTEN_PID = our pid, LISTEN_FDS = n, fds 3..3+n-1) for
// svc's container: the files become the container process's ExtraFiles,
// so the container sees them as fds 3.. too, and env is what it needs to
// find them: LISTEN_FDS, LISTEN_PID=1 (its PID 1) and LISTEN_FDNAMES. A
// socket's name in the model wins over systemd's (one FileDescriptorName
// covers a whole .socket unit). Without sockets for us, it returns nothing.
func inheritedSockets(svc *model.Service) (files []*os.File, env []string, err error) {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		if len(svc.Sockets) > 0 {
			return nil, nil, fmt.Errorf("service is socket-activated but systemd passed no sockets (start its .socket unit, not the service)")
		}
		return nil, nil, nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return nil, nil, fmt.Errorf("invalid LISTEN_FDS=%q", os.Getenv("LISTEN_FDS"))
	}
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	var outNames []string
	for i := range n {
		name := "unknown"
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		if i < len(svc.Sockets) && svc.Sockets[i].Name != "" {
			name = svc.Sockets[i].Name
		}
		outNames = append(outNames, name)
		files = append(files, os.NewFile(uintptr(listenFDsStart+i), name))
	}
	// The launcher's own children must not see them as theirs.
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
	env = []string{
		"LISTEN_FDS=" + strconv.Itoa(n),
		"LISTEN_PID=1",
		"LISTEN_FDNAMES=" + strings.Join(outNames, ":"),
	}
	return files, env, nil
}

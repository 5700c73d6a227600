package runtime

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose/model"
)

// maxProbeOutput is how much of a check's output is kept (docker: 4 KiB).
const maxProbeOutput = 4096

type probeResult struct {
	code   int
	output string
}

func failed(format string, args ...any) probeResult {
	return probeResult{code: -1, output: fmt.Sprintf(format, args...)}
}

// runProbe runs one check of h against container id (PID 1 = pid), bounded
// by the probe's timeout. A timeout or an error starting the check is a
// failed check with exit code -1, as in docker.
func runProbe(ctx context.Context, l layout, id string, st *State, h *model.Health) probeResult {
	pid := st.Pid
	timeout := orDur(h.Timeout, defaultHealthTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case h.HTTPGet != nil:
		return httpProbe(ctx, pid, h.HTTPGet)
	case h.TCPPort > 0:
		return tcpProbe(ctx, pid, h.TCPPort)
	case len(h.Cmd) > 0:
		args := h.Cmd
		if h.Shell {
			args = []string{"/bin/sh", "-c", strings.Join(h.Cmd, " ")}
		}
		return execProbe(ctx, l, id, st, args, timeout)
	}
	return failed("health check has no test")
}

// execProbe runs args inside the container, joining all its namespaces and
// its cgroup through libcontainer (as `runc exec` does), with PID 1's
// environment, as the container's configured user (docker runs checks as
// the container's user, not as whoever PID 1 became after an entrypoint
// dropped privileges; PID 1's user for containers whose state has none).
func execProbe(ctx context.Context, l layout, id string, st *State, args []string, timeout time.Duration) probeResult {
	c, err := libcontainer.Load(l.libcontainer, id)
	if err != nil {
		return failed("loading container: %v", err)
	}
	env, uid, gid := processIdentity(st.Pid)
	var groups []int
	if u := st.User; u != nil {
		uid, gid, groups = u.UID, u.GID, u.Groups
	}
	out := &limitedBuffer{max: maxProbeOutput}
	p := &libcontainer.Process{
		Args:             args,
		Env:              env,
		Cwd:              "/",
		UID:              uid,
		GID:              gid,
		AdditionalGroups: groups,
		Stdout:           out,
		Stderr:           out,
		Init:             false,
	}
	if err := c.Run(p); err != nil {
		return failed("starting health check: %v", err)
	}
	done := make(chan struct{})
	var ps *os.ProcessState
	var waitErr error
	go func() {
		ps, waitErr = p.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		_ = p.Signal(unix.SIGKILL)
		<-done
		return failed("health check exceeded timeout (%v)", timeout)
	}
	if ps == nil {
		return failed("waiting for health check: %v", waitErr)
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		return failed("waiting for health check: %v", waitErr)
	}
	return probeResult{code: ps.ExitCode(), output: out.String()}
}

// processIdentity reads the environment and user of the container's PID 1
// from /proc, so a check sees what the service sees (docker exec's
// defaults); a PATH is added when the process has none.
func processIdentity(pid int) (env []string, uid, gid int) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid)); err == nil {
		for _, kv := range strings.Split(string(b), "\x00") {
			if kv != "" {
				env = append(env, kv)
			}
		}
	}
	hasPath := false
	for _, kv := range env {
		hasPath = hasPath || strings.HasPrefix(kv, "PATH=")
	}
	if !hasPath {
		env = append(env, "PATH="+defaultPath)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "Uid:" {
				uid, _ = strconv.Atoi(f[1])
			}
			if len(f) >= 2 && f[0] == "Gid:" {
				gid, _ = strconv.Atoi(f[1])
			}
		}
	}
	return env, uid, gid
}

// tcpProbe passes when a TCP connection to the port opens, from inside the
// container's network namespace.
func tcpProbe(ctx context.Context, pid, port int) probeResult {
	conn, err := dialInNetns(ctx, pid, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return failed("tcp %d: %v", port, err)
	}
	conn.Close()
	return probeResult{output: fmt.Sprintf("tcp %d: connected", port)}
}

// httpProbe passes on a 2xx or 3xx answer (redirects not followed), as
// Kubernetes' httpGet probe, from inside the container's network namespace.
func httpProbe(ctx context.Context, pid int, g *model.HTTPProbe) probeResult {
	scheme := strings.ToLower(g.Scheme)
	if scheme == "" {
		scheme = "http"
	}
	if scheme != "http" && scheme != "https" {
		return failed("httpGet scheme %q is not supported", g.Scheme)
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, g.Port, path)
	client := &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dialInNetns(ctx, pid, network, addr)
			},
			DisableKeepAlives: true,
			// As Kubernetes: an https probe does not verify the
			// certificate, which names the service, not 127.0.0.1.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return failed("%v", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return failed("GET %s: %v", url, err)
	}
	resp.Body.Close()
	r := probeResult{output: fmt.Sprintf("GET %s: %s", url, resp.Status)}
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		r.code = 1
	}
	return r
}

// dialInNetns opens the socket inside the network namespace of pid: the
// calling OS thread switches namespaces for the socket(2) call only and
// switches back; a thread that cannot switch back is never reused.
func dialInNetns(ctx context.Context, pid int, network, addr string) (net.Conn, error) {
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, fmt.Errorf("opening network namespace: %w", err)
	}
	defer target.Close()
	var (
		conn    net.Conn
		dialErr error
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		goruntime.LockOSThread()
		own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			goruntime.UnlockOSThread()
			dialErr = err
			return
		}
		defer own.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			goruntime.UnlockOSThread()
			dialErr = fmt.Errorf("joining network namespace: %w", err)
			return
		}
		d := net.Dialer{}
		conn, dialErr = d.DialContext(ctx, network, addr)
		if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
			return // the thread stays locked and exits with this goroutine
		}
		goruntime.UnlockOSThread()
	}()
	wg.Wait()
	return conn, dialErr
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}

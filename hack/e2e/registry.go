package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// RegistryBinary is Debian's docker-registry (distribution 2.8).
const RegistryBinary = "/usr/bin/docker-registry"

// registryConfig stores blobs in a work dir, allows deletes (tags can be
// deleted and overwritten) and answers with relative Location headers so
// the counting proxy in front of it stays in the loop.
const registryConfig = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  relativeurls: true
`

// Registry is a real docker-registry on loopback behind an in-process
// reverse proxy that counts requests, so tests can assert e.g. "exactly one
// HEAD per image". Addr is the proxy's address; every client must use it.
type Registry struct {
	addr    string
	backend string

	mu    sync.Mutex
	heads map[string]int // HEAD requests by URL path
	basic *authn.Basic   // when set, every request must carry these credentials
}

// StartRegistry starts docker-registry with filesystem storage in a
// WorkDir on 127.0.0.1, waits until /v2/ answers through the proxy, and
// kills both at cleanup. It fails the test if the binary is missing.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	if _, err := os.Stat(RegistryBinary); err != nil {
		t.Fatalf("the registry needs %s (apt-get install docker-registry): %v", RegistryBinary, err)
	}
	dir := WorkDir(t)
	r := &Registry{heads: map[string]int{}}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		backend, err := r.startBackend(t, dir, attempt)
		if err == nil {
			r.backend = backend
			break
		}
		lastErr = err
	}
	if r.backend == "" {
		t.Fatalf("starting docker-registry: %v", lastErr)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for the registry proxy: %v", err)
	}
	r.addr = ln.Addr().String()
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: r.backend})
	srv := &http.Server{Handler: r.count(proxy), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	if err := waitHTTP("http://"+r.addr+"/v2/", 10*time.Second); err != nil {
		t.Fatalf("registry proxy: %v", err)
	}
	return r
}

// startBackend runs docker-registry on a free port and waits for /v2/.
func (r *Registry) startBackend(t testing.TB, dir string, attempt int) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	storage := filepath.Join(dir, "storage")
	conf := filepath.Join(dir, fmt.Sprintf("config-%d.yml", attempt))
	if err := os.WriteFile(conf, fmt.Appendf(nil, registryConfig, storage, addr), 0o600); err != nil {
		return "", fmt.Errorf("writing registry config: %w", err)
	}
	logPath := filepath.Join(dir, fmt.Sprintf("registry-%d.log", attempt))
	log, err := os.Create(logPath)
	if err != nil {
		return "", fmt.Errorf("creating registry log: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(RegistryBinary, "serve", conf)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting %s: %w", RegistryBinary, err)
	}
	// The watchdog kills the registry even if the test binary dies.
	wd, err := startWatchdog(cmd.Process.Pid)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return "", err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stop := func() {
		if wd.fire(10*time.Second) != nil {
			_ = cmd.Process.Kill()
		}
		<-done
	}
	ready := make(chan error, 1)
	go func() { ready <- waitHTTP("http://"+addr+"/v2/", 15*time.Second) }()
	select {
	case err := <-ready:
		if err != nil {
			stop()
			out, _ := os.ReadFile(logPath)
			return "", fmt.Errorf("%w\n%s", err, out)
		}
	case <-done:
		out, _ := os.ReadFile(logPath)
		return "", fmt.Errorf("docker-registry exited at start:\n%s", out)
	}
	t.Cleanup(stop)
	return addr, nil
}

// count records HEAD requests by path before forwarding, and refuses
// requests without the credentials RequireBasicAuth set.
func (r *Registry) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		basic := r.basic
		if req.Method == http.MethodHead {
			r.heads[req.URL.Path]++
		}
		r.mu.Unlock()
		if basic != nil {
			if u, p, ok := req.BasicAuth(); !ok || u != basic.Username || p != basic.Password {
				// What distribution's htpasswd auth answers.
				w.Header().Set("WWW-Authenticate", `Basic realm="berth-e2e"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`)
				return
			}
		}
		next.ServeHTTP(w, req)
	})
}

// RequireBasicAuth makes the registry answer 401 to every request without
// user and password in basic auth, as docker-registry with htpasswd does;
// Push and Delete then send them.
func (r *Registry) RequireBasicAuth(user, password string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.basic = &authn.Basic{Username: user, Password: password}
}

// remoteAuth is the credentials Push and Delete send.
func (r *Registry) remoteAuth() remote.Option {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.basic == nil {
		return remote.WithAuth(authn.Anonymous)
	}
	return remote.WithAuth(r.basic)
}

// Addr is "127.0.0.1:PORT", the registry host for image references. It is
// reachable from sandboxes too (they share the host's network namespace).
func (r *Registry) Addr() string { return r.addr }

// Ref returns the full reference for repoTag ("busybox:v1" ->
// "127.0.0.1:PORT/busybox:v1"); full references are returned unchanged.
func (r *Registry) Ref(repoTag string) string {
	if strings.HasPrefix(repoTag, r.addr+"/") {
		return repoTag
	}
	return r.addr + "/" + strings.TrimPrefix(repoTag, "/")
}

// HeadCount is the number of HEAD requests served since start or the last
// ResetCounts, for any path.
func (r *Registry) HeadCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.heads {
		n += c
	}
	return n
}

// HeadCounts returns HEAD requests by URL path, e.g.
// "/v2/busybox/manifests/latest": 1.
func (r *Registry) HeadCounts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.heads))
	for k, v := range r.heads {
		out[k] = v
	}
	return out
}

// ResetCounts zeroes the request counters.
func (r *Registry) ResetCounts() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.heads)
}

// Push pushes img to repoTag ("busybox:v2" or a full reference on this
// registry) over plain HTTP and returns the manifest digest ("sha256:…").
// Pushing to an existing tag moves the tag. Push does not count as HEADs
// the caller made: counters are reset afterwards.
func (r *Registry) Push(t testing.TB, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(r.Ref(repoTag), name.Insecure)
	if err != nil {
		t.Fatalf("parsing %s: %v", repoTag, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := remote.Write(ref, img, remote.WithContext(ctx), r.remoteAuth()); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("digest of pushed image: %v", err)
	}
	r.ResetCounts()
	return d.String()
}

// Delete removes the manifest repoTag points at (and with it every tag on
// that manifest; distribution 2.8 deletes by digest only).
func (r *Registry) Delete(t testing.TB, repoTag string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ref, err := name.ParseReference(r.Ref(repoTag), name.Insecure)
	if err != nil {
		t.Fatalf("parsing %s: %v", repoTag, err)
	}
	desc, err := remote.Head(ref, remote.WithContext(ctx), r.remoteAuth())
	if err != nil {
		t.Fatalf("resolving %s: %v", ref, err)
	}
	if err := remote.Delete(ref.Context().Digest(desc.Digest.String()), remote.WithContext(ctx), r.remoteAuth()); err != nil {
		t.Fatalf("deleting %s: %v", ref, err)
	}
	r.ResetCounts()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200 or timeout passes.
func waitHTTP(url string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	var last error = errors.New("no answer")
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %v: %w", url, timeout, last)
}

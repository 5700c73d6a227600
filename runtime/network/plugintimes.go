package network

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
)

// pluginTimes runs CNI plugins as libcni does by default, except the
// bridge plugin's ADD and DEL, which it does in process (bridgeinproc.go)
// unless execBridge is set, and adds up how long each took, by plugin and
// command ("bridge ADD", "bridge ADD (in process)"): the profile of an attach (the bridge plugin's
// time includes the IPAM plugin it runs).
type pluginTimes struct {
	*invoke.DefaultExec
	execBridge bool
	mu         sync.Mutex
	took       map[string]time.Duration
}

func newPluginTimes() *pluginTimes {
	return &pluginTimes{
		DefaultExec: &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}, PluginDecoder: version.PluginDecoder{}},
		execBridge:  os.Getenv(ExecBridgeEnv) == "1",
		took:        map[string]time.Duration{},
	}
}

// ExecPlugin implements invoke.Exec.
func (p *pluginTimes) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	start := time.Now()
	var out []byte
	var err error
	call := cniCallOf(environ)
	var conf *bridgeConf
	inProcess := false
	if filepath.Base(path) == "bridge" && !p.execBridge {
		conf, inProcess = inProcessBridge(stdin, call)
	}
	switch {
	case !inProcess:
		out, err = p.DefaultExec.ExecPlugin(ctx, path, stdin, environ)
	case call.command == "ADD":
		out, err = bridgeAdd(stdin, call, conf)
	default:
		err = bridgeDel(stdin, call)
	}
	key := filepath.Base(path) + " " + call.command
	if inProcess {
		key += " (in process)"
	}
	p.mu.Lock()
	p.took[key] += time.Since(start)
	p.mu.Unlock()
	return out, err
}

// snapshot copies the times added up so far.
func (p *pluginTimes) snapshot() map[string]time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.took)
}

// since is how much each plugin ran after snapshot before was taken.
func (p *pluginTimes) since(before map[string]time.Duration) map[string]time.Duration {
	d := p.snapshot()
	for k, v := range before {
		if d[k] -= v; d[k] <= 0 {
			delete(d, k)
		}
	}
	return d
}

// take returns the times added up since the last take, and starts anew.
func (p *pluginTimes) take() map[string]time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.took
	p.took = map[string]time.Duration{}
	return t
}

// formatTimes renders times as "bridge ADD=120ms portmap ADD=40ms", sorted.
func formatTimes(t map[string]time.Duration) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(t)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, t[k].Round(100*time.Microsecond)))
	}
	return strings.Join(parts, " ")
}

func envValue(environ []string, key string) string {
	for _, e := range environ {
		if v, ok := strings.CutPrefix(e, key+"="); ok {
			return v
		}
	}
	return ""
}

package runtime

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/compose/model"
)

// TestRuntimeEnv: the start-time downward-API fields reach the container's
// environment over what the spec had: the pod's address as RunPod recorded
// it, the host's name and an address of the host.
func TestRuntimeEnv(t *testing.T) {
	run := t.TempDir()
	dir := PodDir(run, "shop")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writePodIP(dir, map[string]model.NetworkAttachment{"shop_default": {IPv4: "10.89.0.7"}}); err != nil {
		t.Fatal(err)
	}
	svc := &model.Service{Project: "shop", Name: "app", Pod: "web", RuntimeEnv: []model.RuntimeEnvVar{
		{Name: "POD_IP", Field: model.FieldPodIP}, {Name: "NODE", Field: model.FieldNodeName}, {Name: "HOST_IP", Field: model.FieldHostIP},
	}}
	spec := &specs.Spec{Process: &specs.Process{Env: []string{"PATH=/bin", "POD_IP=stale"}}}
	if err := setRuntimeEnv(spec, run, svc); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	env := map[string]string{}
	for _, kv := range spec.Process.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if env["POD_IP"] != "10.89.0.7" || env["NODE"] != host || env["PATH"] != "/bin" || len(spec.Process.Env) != 4 {
		t.Errorf("env %q", spec.Process.Env)
	}
	if ip := net.ParseIP(env["HOST_IP"]); ip == nil || ip.To4() == nil {
		t.Errorf("HOST_IP %q is not an IPv4 address", env["HOST_IP"])
	}
	if !slices.Contains(hostAddrs(t), env["HOST_IP"]) {
		t.Errorf("HOST_IP %s is none of the host's addresses %v", env["HOST_IP"], hostAddrs(t))
	}

	// A pod whose unit did not record its address: the start fails, saying so.
	if err := os.Remove(filepath.Join(dir, podIPFile)); err != nil {
		t.Fatal(err)
	}
	if err := setRuntimeEnv(spec, run, svc); err == nil {
		t.Error("no recorded pod address, no error")
	}
}

func hostAddrs(t *testing.T) []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"127.0.0.1"}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP.String())
		}
	}
	return out
}

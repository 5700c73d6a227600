package runtime

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/compose/model"
)

// podIPFile holds a pod's address in its pod dir, written by RunPod: the
// containers' launchers read it for status.podIP.
const podIPFile = "ip"

// setRuntimeEnv sets the service's model.RuntimeEnv variables, over its
// environment, from what only the start knows: the pod's address, the
// host's address and name. None of them is secret.
func setRuntimeEnv(spec *specs.Spec, runDir string, svc *model.Service) error {
	if len(svc.RuntimeEnv) == 0 {
		return nil
	}
	over := make([]string, 0, len(svc.RuntimeEnv))
	for _, e := range svc.RuntimeEnv {
		v, err := runtimeValue(e.Field, runDir, svc)
		if err != nil {
			return fmt.Errorf("variable %s (%s): %w", e.Name, e.Field, err)
		}
		over = append(over, e.Name+"="+v)
	}
	spec.Process.Env = mergeEnv(spec.Process.Env, over)
	return nil
}

func runtimeValue(f model.RuntimeField, runDir string, svc *model.Service) (string, error) {
	switch f {
	case model.FieldNodeName:
		return os.Hostname()
	case model.FieldHostIP:
		return hostIP()
	case model.FieldPodIP:
		return podIP(runDir, svc)
	}
	return "", fmt.Errorf("unknown field (valid: %s, %s, %s)", model.FieldPodIP, model.FieldHostIP, model.FieldNodeName)
}

// podIP is the address of the container's pod (the host's with the host's
// network, as in Kubernetes), or of the container itself outside a pod.
func podIP(runDir string, svc *model.Service) (string, error) {
	if svc.NetworkMode == "host" {
		return hostIP()
	}
	if svc.Pod != "" {
		b, err := os.ReadFile(filepath.Join(PodDir(runDir, svc.PodKey()), podIPFile))
		if err != nil {
			return "", fmt.Errorf("reading the address of pod %s (restart the pod if it was started by an older berth): %w", svc.Pod, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	keys := make([]string, 0, len(svc.Networks))
	for k := range svc.Networks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if ip := svc.Networks[k].IPv4; ip != "" {
			return ip, nil
		}
	}
	return "", fmt.Errorf("the container has no address")
}

// writePodIP records the pod's address (its first network's, by name) for
// its containers' status.podIP.
func writePodIP(dir string, nets map[string]model.NetworkAttachment) error {
	keys := make([]string, 0, len(nets))
	for k := range nets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if ip := nets[k].IPv4; ip != "" {
			return os.WriteFile(filepath.Join(dir, podIPFile), []byte(ip+"\n"), 0o600)
		}
	}
	return nil
}

// hostIP is the host's primary IPv4 address, as the kubelet picks the
// node's: the one on the interface of the default route, else the first
// global unicast address of an interface that is up, else loopback's.
func hostIP() (string, error) {
	if name := defaultRouteInterface(); name != "" {
		if ip := firstIPv4(name); ip != "" {
			return ip, nil
		}
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("listing the host's interfaces: %w", err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 {
			if ip := firstIPv4(i.Name); ip != "" {
				return ip, nil
			}
		}
	}
	return "127.0.0.1", nil
}

// defaultRouteInterface reads the interface of the IPv4 default route from
// /proc/net/route ("" without one).
func defaultRouteInterface() string {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// Iface Destination Gateway Flags RefCnt Use Metric Mask ...
		if len(fs) >= 8 && fs[1] == "00000000" && fs[7] == "00000000" {
			return fs[0]
		}
	}
	return ""
}

func firstIPv4(name string) string {
	i, err := net.InterfaceByName(name)
	if err != nil {
		return ""
	}
	addrs, err := i.Addrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

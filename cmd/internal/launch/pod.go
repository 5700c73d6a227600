package launch

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime"
)

// newPodRunCommand is the pod unit's ExecStart: it pins the pod's
// namespaces under the run dir, attaches the network namespace to the
// networks apply reserved for the pod (publishing its hostPorts) and exits
// (the unit is oneshot with RemainAfterExit, so it stays active while the
// pins exist).
func newPodRunCommand(globals func() *Globals) *cobra.Command {
	var pod runtime.PodSandbox
	var nets, publish []string
	cmd := &cobra.Command{
		Use:    "pod-run [--hostname NAME] [--host-network] [--network NET=IP]... [--publish HOSTIP:HOSTPORT:PORT/PROTO]... PROJECT",
		Short:  "Create and pin a pod's network, IPC and UTS namespaces (used by pod units)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pod.Project = args[0]
			var err error
			if pod.Networks, err = parsePodNetworks(nets); err != nil {
				return err
			}
			if pod.Ports, err = parsePodPublish(publish); err != nil {
				return err
			}
			opts, err := runtimeOptions(globals)
			if err != nil {
				return err
			}
			return runtime.RunPod(cmd.Context(), opts, pod)
		},
	}
	cmd.Flags().StringVar(&pod.Hostname, "hostname", "", "the pod's hostname")
	cmd.Flags().BoolVar(&pod.HostNetwork, "host-network", false, "use the host's network namespace")
	cmd.Flags().StringArrayVar(&nets, "network", nil, "attach the pod to berth network NET with address IP (repeatable)")
	cmd.Flags().StringArrayVar(&publish, "publish", nil, "publish a container port on the pod's address, HOSTIP:HOSTPORT:PORT/PROTO, HOSTIP may be empty (repeatable)")
	return cmd
}

// newPodCleanupCommand is the pod unit's ExecStopPost.
func newPodCleanupCommand(globals func() *Globals) *cobra.Command {
	return unitCommand(globals, "pod-cleanup PROJECT", "Detach a pod from its network and unpin its namespaces (used by pod units)", runtime.CleanupPod)
}

// parsePodNetworks reads --network NET=IP values.
func parsePodNetworks(vals []string) (map[string]model.NetworkAttachment, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string]model.NetworkAttachment{}
	for _, v := range vals {
		name, ip, ok := strings.Cut(v, "=")
		if _, err := netip.ParseAddr(ip); !ok || name == "" || err != nil {
			return nil, fmt.Errorf("--network %q: want NETWORK=IPv4", v)
		}
		out[name] = model.NetworkAttachment{IPv4: ip}
	}
	return out, nil
}

// parsePodPublish reads --publish values as units.PodPublishArg writes
// them: HOSTIP:HOSTPORT:CONTAINERPORT/PROTOCOL (HOSTIP may be empty or an
// IPv6 address, so the string is split from the right).
func parsePodPublish(vals []string) ([]model.Port, error) {
	var out []model.Port
	for _, v := range vals {
		bad := fmt.Errorf("--publish %q: want HOSTIP:HOSTPORT:CONTAINERPORT/tcp|udp", v)
		rest, proto, ok := strings.Cut(v, "/")
		if !ok || (proto != "tcp" && proto != "udp") {
			return nil, bad
		}
		i := strings.LastIndex(rest, ":")
		if i < 0 {
			return nil, bad
		}
		cport, err := strconv.ParseUint(rest[i+1:], 10, 16)
		if err != nil || cport == 0 {
			return nil, bad
		}
		rest = rest[:i]
		j := strings.LastIndex(rest, ":")
		if j < 0 {
			return nil, bad
		}
		hport, err := strconv.ParseUint(rest[j+1:], 10, 16)
		if err != nil || hport == 0 {
			return nil, bad
		}
		hostIP := rest[:j]
		if hostIP != "" {
			if _, err := netip.ParseAddr(hostIP); err != nil {
				return nil, bad
			}
		}
		out = append(out, model.Port{HostIP: hostIP, HostPort: uint16(hport), ContainerPort: uint16(cport), Protocol: proto})
	}
	return out, nil
}

package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/runtime"
)

// newPodRunCommand is the pod unit's ExecStart: it pins the pod's
// namespaces under the run dir and exits (the unit is oneshot with
// RemainAfterExit, so it stays active while the pins exist).
func newPodRunCommand(g *globalOptions) *cobra.Command {
	var pod runtime.PodSandbox
	cmd := &cobra.Command{
		Use:    "pod-run [--hostname NAME] [--host-network] PROJECT",
		Short:  "Create and pin a pod's network, IPC and UTS namespaces (used by pod units)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pod.Project = args[0]
			opts := runtime.Options{StateDir: g.StateDir, RunDir: g.RunDir, Log: g.logger()}
			return runtime.RunPod(cmd.Context(), opts, pod)
		},
	}
	cmd.Flags().StringVar(&pod.Hostname, "hostname", "", "the pod's hostname")
	cmd.Flags().BoolVar(&pod.HostNetwork, "host-network", false, "use the host's network namespace")
	return cmd
}

// newPodCleanupCommand is the pod unit's ExecStopPost.
func newPodCleanupCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:    "pod-cleanup PROJECT",
		Short:  "Unpin a pod's namespaces (used by pod units)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := runtime.Options{StateDir: g.StateDir, RunDir: g.RunDir, Log: g.logger()}
			return runtime.CleanupPod(cmd.Context(), opts, args[0])
		},
	}
}

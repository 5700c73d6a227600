package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/network"
	"github.com/berth-dev/berth/runtime/paths"
)

// PodSandbox is what RunPod makes for a pod: fresh network (unless the pod
// uses the host's), IPC and UTS namespaces, pinned by bind mounts under
// <run>/pods/<key>/ so that they outlive the process that made them.
// The pod's containers join them; nothing keeps running for the pod.
type PodSandbox struct {
	// Project is the pod's key (model.Pod.Key): its project's name for a
	// file's only pod, <project>.<pod> for each of several.
	Project     string
	Hostname    string
	HostNetwork bool
	// Networks are the addresses apply reserved for the pod, by berth
	// network; the pinned netns is attached to them once, with Ports (the
	// containers' hostPorts) published onto the pod's address.
	Networks map[string]model.NetworkAttachment
	Ports    []model.Port
}

// podNamespaces are the namespaces a pod's containers share, by the name
// of their /proc/<pid>/ns entry.
var podNamespaces = []struct {
	file string
	typ  specs.LinuxNamespaceType
	flag int
}{
	{"net", specs.NetworkNamespace, unix.CLONE_NEWNET},
	{"ipc", specs.IPCNamespace, unix.CLONE_NEWIPC},
	{"uts", specs.UTSNamespace, unix.CLONE_NEWUTS},
}

// PodDir is <run>/pods/<project>, where a pod's namespaces are pinned.
func PodDir(runDir, project string) string {
	if runDir == "" {
		runDir = paths.DefaultRunDir
	}
	return filepath.Join(runDir, "pods", project)
}

// PodNetNS is the pinned network namespace of a project's pod: the one
// netns CNI attaches the pod to. It exists while the pod unit is active.
func PodNetNS(runDir, project string) string { return filepath.Join(PodDir(runDir, project), "net") }

// RunPod creates and pins the pod's namespaces, with loopback up and the
// hostname set. Leftovers of an earlier run are removed first; on failure
// everything it made is removed again.
func RunPod(ctx context.Context, opts Options, pod PodSandbox) (retErr error) {
	opts = opts.withDefaults()
	if err := validID(pod.Project); err != nil {
		return err
	}
	if err := CleanupPod(ctx, opts, pod.Project); err != nil {
		opts.Log.Warn("cleaning leftovers of an earlier pod", "pod", pod.Project, "err", err)
	}
	dir := PodDir(opts.RunDir, pod.Project)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating pod dir: %w", err)
	}
	defer func() {
		if retErr != nil {
			if err := CleanupPod(context.WithoutCancel(ctx), opts, pod.Project); err != nil {
				opts.Log.Error("cleaning up after failed pod start", "pod", pod.Project, "err", err)
			}
		}
	}()
	errc := make(chan error, 1)
	go func() {
		// unshare applies to this thread only. It is never unlocked, so Go
		// ends the thread (and never reuses it in the pod's namespaces)
		// when the goroutine returns; the bind mounts keep them alive.
		goruntime.LockOSThread()
		errc <- pinNamespaces(dir, pod)
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("creating the namespaces of pod %s: %w", pod.Project, err)
	}
	if len(pod.Networks) > 0 && !pod.HostNetwork {
		if err := netLauncher(opts).AttachPod(ctx, pod.Project, PodNetNS(opts.RunDir, pod.Project), pod.Networks, pod.Ports); err != nil {
			return fmt.Errorf("attaching pod %s to its network: %w", pod.Project, err)
		}
		if err := writePodIP(dir, pod.Networks); err != nil {
			return fmt.Errorf("recording the address of pod %s: %w", pod.Project, err)
		}
	}
	opts.Log.Info("pod sandbox ready", "pod", pod.Project, "dir", dir, "hostname", pod.Hostname, "host_network", pod.HostNetwork, "networks", pod.Networks)
	return nil
}

func pinNamespaces(dir string, pod PodSandbox) error {
	flags := 0
	for _, ns := range podNamespaces {
		if ns.typ == specs.NetworkNamespace && pod.HostNetwork {
			continue
		}
		flags |= ns.flag
	}
	if err := unix.Unshare(flags); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	if pod.Hostname != "" {
		if err := unix.Sethostname([]byte(pod.Hostname)); err != nil {
			return fmt.Errorf("setting hostname %q: %w", pod.Hostname, err)
		}
	}
	if !pod.HostNetwork {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	tid := unix.Gettid()
	for _, ns := range podNamespaces {
		if ns.typ == specs.NetworkNamespace && pod.HostNetwork {
			continue
		}
		pin := filepath.Join(dir, ns.file)
		f, err := os.OpenFile(pin, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o600)
		if err != nil {
			return fmt.Errorf("creating %s: %w", pin, err)
		}
		f.Close()
		src := fmt.Sprintf("/proc/%d/task/%d/ns/%s", os.Getpid(), tid, ns.file)
		if err := unix.Mount(src, pin, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("pinning %s at %s: %w", src, pin, err)
		}
	}
	return nil
}

// loopbackUp sets lo up in the calling thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("setting lo up: %w", err)
	}
	return nil
}

// CleanupPod detaches the pod from its networks (with the arguments its
// ADD had, so portmap's rules and the address go too), unpins its
// namespaces and removes its dir; the namespaces go away once no container
// is left in them. Idempotent.
func CleanupPod(ctx context.Context, opts Options, project string) error {
	opts = opts.withDefaults()
	if err := validID(project); err != nil {
		return err
	}
	dir := PodDir(opts.RunDir, project)
	var errs []error
	if err := netLauncher(opts).Teardown(ctx, network.PodID(project)); err != nil {
		errs = append(errs, fmt.Errorf("detaching pod %s from its network: %w", project, err))
	}
	for _, ns := range podNamespaces {
		pin := filepath.Join(dir, ns.file)
		if err := unix.Unmount(pin, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unpinning %s: %w", pin, err))
		}
	}
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing %s: %w", dir, err))
	}
	_ = os.Remove(filepath.Dir(dir)) // <run>/pods, once no pod is left
	return errors.Join(errs...)
}

// joinPod makes a pod member's spec join the pod's pinned namespaces
// instead of making its own. The hostname is the pod's, set by RunPod.
func joinPod(spec *specs.Spec, runDir string, svc *model.Service) error {
	if svc.Pod == "" {
		return nil
	}
	if err := validID(svc.PodKey()); err != nil {
		return err
	}
	dir := PodDir(runDir, svc.PodKey())
	for i := range spec.Linux.Namespaces {
		ns := &spec.Linux.Namespaces[i]
		for _, pn := range podNamespaces {
			if ns.Type != pn.typ {
				continue
			}
			pin := filepath.Join(dir, pn.file)
			if _, err := os.Stat(pin); err != nil {
				return fmt.Errorf("pod %s of project %s is not running (its unit pins the namespaces at %s): %w", svc.Pod, svc.Project, dir, err)
			}
			ns.Path = pin
		}
	}
	spec.Hostname = ""
	return nil
}

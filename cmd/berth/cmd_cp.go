package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/runtime"
)

type cpOptions struct {
	Archive    bool
	FollowLink bool
}

func newCpCommand(g *globalOptions) *cobra.Command {
	o := &cpOptions{}
	cmd := &cobra.Command{
		Use:   "cp [flags] [PROJECT/]SERVICE:SRC DEST|-\n  berth cp [flags] SRC|- [PROJECT/]SERVICE:DEST",
		Short: "Copy files between a running service's container and the host",
		Long: `cp copies files or directories into or out of a service's running
container, as docker compose cp does: a directory is copied whole, into
DEST when DEST is an existing directory; "-" is a tar stream on stdin or
stdout. Paths in the container are resolved inside its root (and its
volumes): a symlink in the container never leads out to the host.

What lands in the container belongs to its root unless -a keeps the
source's owner; what lands on the host belongs to the caller.`,
		Example: `  berth cp hello/web:/etc/nginx/nginx.conf .
  berth cp ./site hello/web:/usr/share/nginx/html
  berth cp -a ./data web:/var/lib/app
  berth cp web:/var/log - | tar -t`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCp(cmd.Context(), g, o, args[0], args[1], os.Stdin, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVarP(&o.Archive, "archive", "a", false, "keep the source's uid/gid")
	cmd.Flags().BoolVarP(&o.FollowLink, "follow-link", "L", false, "copy what a source symlink points to")
	return cmd
}

func runCp(ctx context.Context, g *globalOptions, o *cpOptions, src, dst string, stdin io.Reader, stdout io.Writer) error {
	srcSvc, srcPath, srcIn := splitCpArg(src)
	dstSvc, dstPath, dstIn := splitCpArg(dst)
	if srcIn == dstIn {
		return errors.New("exactly one of SRC and DEST must be SERVICE:PATH (copying between containers is not supported)")
	}
	arg, req := srcSvc, runtime.CopyRequest{Container: srcPath, Host: dstPath}
	if dstIn {
		arg, req = dstSvc, runtime.CopyRequest{Container: dstPath, Host: srcPath}
	}
	req.KeepOwner, req.FollowLink, req.Stdin, req.Stdout = o.Archive, o.FollowLink, stdin, stdout
	s, err := resolveOne(ctx, arg)
	if err != nil {
		return err
	}
	opts := runtime.Options{StateDir: g.StateDir, RunDir: g.RunDir}
	if dstIn {
		err = runtime.CopyToContainer(ctx, opts, s.ID(), req)
	} else {
		err = runtime.CopyFromContainer(ctx, opts, s.ID(), req)
	}
	if errors.Is(err, runtime.ErrNotRunning) {
		return notRunning(ctx, s)
	}
	return err
}

// splitCpArg splits SERVICE:PATH; a path in the container is taken from
// its root ("etc" is "/etc"). Host paths with a ':' start with "/" or ".".
func splitCpArg(arg string) (svc, p string, inContainer bool) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", arg, false
	}
	svc, p, ok := strings.Cut(arg, ":")
	if !ok || svc == "" {
		return "", arg, false
	}
	if !strings.HasPrefix(p, "/") {
		// Keep a trailing "/" or "/.": docker cp reads them as "the
		// directory's contents" and "must be a directory".
		p = "/" + p
	}
	return svc, path.Clean("/"+p) + trailing(p), true
}

func trailing(p string) string {
	switch {
	case strings.HasSuffix(p, "/."):
		return "/."
	case strings.HasSuffix(p, "/") && p != "/":
		return "/"
	}
	return ""
}

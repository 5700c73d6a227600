package runtime

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/sys/user"

	"github.com/berth-dev/berth/compose/model"
)

// defaultPath is docker's PATH for images that set none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// commandLine merges the service's entrypoint and command with the image's
// as docker does: a nil slice keeps the image's value, an empty non-nil one
// clears it, and setting the entrypoint drops the image's Cmd unless the
// service also sets a command.
func commandLine(svc *model.Service, img v1.Config) ([]string, error) {
	entrypoint := img.Entrypoint
	cmd := img.Cmd
	if svc.Entrypoint != nil {
		entrypoint = svc.Entrypoint
		cmd = nil
	}
	if svc.Command != nil {
		cmd = svc.Command
	}
	args := append(append([]string{}, entrypoint...), cmd...)
	if len(args) == 0 {
		return nil, errors.New("no command to run: neither the image nor the service sets an entrypoint or command")
	}
	return args, nil
}

// environment is the image's environment overlaid by the service's, plus
// docker's defaults (PATH, HOSTNAME, HOME) where neither sets them. The result
// is sorted by name so the same service always gets the same process.
func environment(img []string, svc map[string]string, hostname, home string) []string {
	env := map[string]string{}
	for _, kv := range img {
		k, v, _ := strings.Cut(kv, "=")
		if k != "" {
			env[k] = v
		}
	}
	for k, v := range svc {
		env[k] = v
	}
	setDefault := func(k, v string) {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	setDefault("PATH", defaultPath)
	setDefault("HOSTNAME", hostname)
	if home != "" {
		setDefault("HOME", home)
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// workingDir is the service's directory, else the image's, else "/".
func workingDir(svc *model.Service, img v1.Config) string {
	switch {
	case svc.WorkingDir != "":
		return svc.WorkingDir
	case img.WorkingDir != "":
		return img.WorkingDir
	}
	return "/"
}

// resolveUser turns a user spec (name or uid, optionally ":group" as name or
// gid; empty means root) into ids, reading /etc/passwd and /etc/group inside
// rootfs as docker does. A numeric uid needs no passwd entry; a name does.
func resolveUser(rootfs, spec string) (*user.ExecUser, error) {
	passwd, err := securejoin.SecureJoin(rootfs, "/etc/passwd")
	if err != nil {
		return nil, fmt.Errorf("locating /etc/passwd in the image: %w", err)
	}
	group, err := securejoin.SecureJoin(rootfs, "/etc/group")
	if err != nil {
		return nil, fmt.Errorf("locating /etc/group in the image: %w", err)
	}
	u, err := user.GetExecUserPath(spec, &user.ExecUser{Home: "/"}, passwd, group)
	if err != nil {
		return nil, fmt.Errorf("resolving user %q in the image: %w", spec, err)
	}
	return u, nil
}

// userSpec is the service's user, else the image's.
func userSpec(svc *model.Service, img v1.Config) string {
	if svc.User != "" {
		return svc.User
	}
	return img.User
}

// additionalGroups is the user's supplementary groups from the image's
// /etc/group plus group_add, whose entries are group names looked up in the
// image's /etc/group or numeric gids, as docker resolves them.
func additionalGroups(rootfs string, sgids []int, add []string) ([]uint32, error) {
	var out []uint32
	seen := map[int]bool{}
	appendGid := func(g int) {
		if !seen[g] {
			seen[g] = true
			out = append(out, uint32(g))
		}
	}
	for _, g := range sgids {
		appendGid(g)
	}
	if len(add) == 0 {
		return out, nil
	}
	group, err := securejoin.SecureJoin(rootfs, "/etc/group")
	if err != nil {
		return nil, fmt.Errorf("locating /etc/group in the image: %w", err)
	}
	// One at a time: the library returns a set, and the declared order
	// should be the order the process gets.
	for _, name := range add {
		gids, err := user.GetAdditionalGroupsPath([]string{name}, group)
		if err != nil {
			return nil, fmt.Errorf("group_add: %w", err)
		}
		for _, g := range gids {
			appendGid(g)
		}
	}
	return out, nil
}

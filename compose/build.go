package compose

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/compose/model"

	"github.com/compose-spec/compose-go/v2/types"
)

// build converts compose's `build:` into the model. The service's image is
// then local: `image:` names the tag the build gets, else
// model.DefaultBuildImage; the launcher never pulls it (PullNever). The
// pull policy decides whether berth builds at all: missing (the default)
// builds when no image of the context's hash is in the store, build at
// every (re)create; always pulls `image:` from its registry and never
// pulls an unknown one; never runs the local `image:` as it is.
func (l *loader) build(c svcAt, sc types.ServiceConfig, s *model.Service) error {
	if sc.Build == nil {
		if sc.PullPolicy == "build" {
			c.warnf([]string{"pull_policy"}, "build needs a `build:` section; the image %q is pulled when missing", sc.Image)
		}
		if sc.Image == "" {
			return c.errorf([]string{"image"}, "required: a service needs `image:` or `build:`")
		}
		return nil
	}
	switch sc.PullPolicy {
	case "always":
		if sc.Image == "" {
			return c.errorf([]string{"pull_policy"}, "always needs `image:` to pull; to build at every start use pull_policy: build")
		}
		c.warnf([]string{"build"}, "is not used: pull_policy always pulls %q", sc.Image)
		return nil
	case "never":
		if sc.Image == "" {
			return c.errorf([]string{"pull_policy"}, "never needs `image:` naming an image already in the store")
		}
		c.warnf([]string{"build"}, "is not used: pull_policy never runs the local image %q", sc.Image)
		return nil
	}
	bc := sc.Build
	field := func(f ...string) []string { return append([]string{"build"}, f...) }
	b := &model.Build{Target: bc.Target, Network: "host", Always: sc.PullPolicy == "build"}
	if strings.Contains(bc.Context, "://") || strings.HasPrefix(bc.Context, "git@") {
		return c.errorf(field("context"), "%q: only a local directory can be built, not a URL", bc.Context)
	}
	b.Context = bc.Context
	if b.Context == "" {
		b.Context = "."
	}
	if !filepath.IsAbs(b.Context) {
		b.Context = filepath.Join(l.dir, b.Context)
	}
	if fi, err := os.Stat(b.Context); err != nil || !fi.IsDir() {
		return c.errorf(field("context"), "%s is not a directory", b.Context)
	}
	if bc.DockerfileInline != "" {
		b.Inline = bc.DockerfileInline
	} else {
		df := bc.Dockerfile
		if df == "" {
			df = "Dockerfile"
		}
		if !filepath.IsAbs(df) {
			df = filepath.Join(b.Context, df)
		}
		if _, err := os.Stat(df); err != nil {
			return c.errorf(field("dockerfile"), "%v", err)
		}
		b.Dockerfile = df
	}
	for k, v := range bc.Args {
		if v == nil {
			continue // unset in the environment: the Dockerfile's default applies
		}
		if b.Args == nil {
			b.Args = map[string]string{}
		}
		b.Args[k] = *v
	}
	if len(bc.Labels) > 0 {
		b.Labels = map[string]string{}
		for k, v := range bc.Labels {
			b.Labels[k] = v
		}
	}
	switch bc.Network {
	case "", "default", "host":
	case "none":
		b.Network = "none"
	default:
		return c.errorf(field("network"), "%q is not supported (valid: host, none)", bc.Network)
	}
	for i, ref := range bc.Secrets {
		obj, ok := l.cp.Secrets[ref.Source]
		if !ok || obj.File == "" {
			return c.errorf(field("secrets", strconv.Itoa(i)), "secret %q must be a top-level secret with a file", ref.Source)
		}
		id := ref.Target
		if id == "" {
			id = ref.Source
		}
		b.Secrets = append(b.Secrets, model.BuildSecret{ID: id, File: obj.File})
	}
	sort.Slice(b.Secrets, func(i, j int) bool { return b.Secrets[i].ID < b.Secrets[j].ID })
	unsupported := map[string]bool{
		"cache_from": len(bc.CacheFrom) > 0, "cache_to": len(bc.CacheTo) > 0, "no_cache": bc.NoCache,
		"additional_contexts": len(bc.AdditionalContexts) > 0, "extra_hosts": len(bc.ExtraHosts) > 0,
		"isolation": bc.Isolation != "", "ssh": len(bc.SSH) > 0, "tags": len(bc.Tags) > 0,
		"ulimits": len(bc.Ulimits) > 0, "platforms": len(bc.Platforms) > 0, "privileged": bc.Privileged,
		"shm_size": bc.ShmSize != 0, "pull": bc.Pull, "entitlements": len(bc.Entitlements) > 0,
		"no_cache_filter": len(bc.NoCacheFilter) > 0,
	}
	for _, k := range sortedKeys(unsupported) {
		if unsupported[k] {
			c.warnf(field(k), "is not supported and is ignored")
		}
	}
	h, err := buildHash(b)
	if err != nil {
		return c.errorf(field("context"), "%v", err)
	}
	b.Hash = h
	s.Build = b
	if s.Image == "" {
		s.Image = model.DefaultBuildImage(s.Project, s.Name)
	}
	s.PullPolicy = model.PullNever
	return nil
}

package compose

import (
	goruntime "runtime"
	"strings"
)

// platformArchAliases maps the architecture names people write to Go's.
var platformArchAliases = map[string]string{"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "i386": "386"}

// hostArch is the architecture berth's launcher runs containers for: the
// image store takes the linux/<GOARCH> manifest of an index.
func (o options) hostArch() string {
	if o.arch != "" {
		return o.arch
	}
	return goruntime.GOARCH
}

// platform checks compose's `platform: os/arch[/variant]`. berth runs
// images for its host only (no emulation), and the image store already
// picks the host's manifest from an index, so a platform naming the host
// needs nothing more; any other is an error rather than a container that
// would run the wrong architecture or none.
func platform(c svcAt, v string, o options) error {
	if v == "" {
		return nil
	}
	parts := strings.Split(strings.ToLower(v), "/")
	goos, arch := parts[0], ""
	if len(parts) > 1 {
		arch = parts[1]
	}
	if a, ok := platformArchAliases[arch]; ok {
		arch = a
	}
	host := "linux/" + o.hostArch()
	if goos != "linux" || arch != o.hostArch() {
		return c.errorf([]string{"platform"}, "%q cannot run here: berth runs %s images only (no emulation); remove platform or use an image for %s", v, host, host)
	}
	return nil
}

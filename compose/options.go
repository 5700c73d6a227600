package compose

// Option tunes how LoadProject and LoadDir load a project.
type Option func(*options)

type options struct {
	profiles   []string
	environ    []string
	environSet bool
	configRoot string
	kube       KubeLoader // LoadDir only
	unitCheck  func(name, value string) error
	// selinux overrides whether the host enforces SELinux (tests).
	selinux *bool
	// arch overrides the host's architecture, GOARCH (tests).
	arch string
}

// WithUnitCheck makes the loader check every x-berth.unit value with check
// (cmd/berth passes units.CheckProperty, which compose cannot import), so
// a value units would refuse is an error with file and line at load time.
func WithUnitCheck(check func(name, value string) error) Option {
	return func(o *options) { o.unitCheck = check }
}

// WithProfiles enables these compose profiles. Without it (or with an empty
// list) the COMPOSE_PROFILES variable of the environment or of the project's
// .env decides, as in docker compose. cmd/berth passes the settings key
// `profiles` here.
func WithProfiles(profiles ...string) Option {
	return func(o *options) { o.profiles = append(o.profiles, profiles...) }
}

// WithEnviron replaces the process environment used for interpolation
// ("KEY=VALUE" entries). The project's .env still applies on top, as in
// docker compose. Tests use it to stay independent of the caller's env.
func WithEnviron(env []string) Option {
	return func(o *options) {
		o.environ = append([]string{}, env...)
		o.environSet = true
	}
}

// WithConfigRoot names the config dir the project lives in. Bind mount
// sources under it get a ContentHash, so editing a mounted config file
// changes the service's spec hash. LoadDir sets it.
func WithConfigRoot(dir string) Option {
	return func(o *options) { o.configRoot = dir }
}

func collectOptions(opts []Option) options {
	var o options
	for _, fn := range opts {
		fn(&o)
	}
	return o
}

// withSELinux makes the loader act as if the host had SELinux enabled or
// not (tests).
func withSELinux(enabled bool) Option { return func(o *options) { o.selinux = &enabled } }

// withArch makes the loader act as on a host of this architecture (tests).
func withArch(arch string) Option { return func(o *options) { o.arch = arch } }

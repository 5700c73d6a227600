package model

// Build is a service's compose `build:`: how berth builds its image with
// buildah before the service (re)starts. It is part of the spec hash, and so
// is Hash, the content of the build context: editing a file the build reads
// rebuilds and recreates that service alone; an unchanged context never
// rebuilds.
type Build struct {
	// Context is the absolute build context directory.
	Context string `json:"context"`
	// Dockerfile is the Dockerfile's absolute path; empty when Inline is
	// set.
	Dockerfile string `json:"dockerfile,omitempty"`
	// Inline is compose's dockerfile_inline.
	Inline string            `json:"dockerfile_inline,omitempty"`
	Args   map[string]string `json:"args,omitempty"`
	Target string            `json:"target,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// Network is the network RUN steps get: "host" (the default, so a
	// RUN step can fetch packages) or "none".
	Network string `json:"network,omitempty"`
	// Secrets are build secrets (RUN --mount=type=secret,id=ID) read from
	// host files.
	Secrets []BuildSecret `json:"secrets,omitempty"`
	// Always rebuilds at every (re)create (compose's pull_policy: build),
	// not only when no image of this Hash is in the store.
	Always bool `json:"always,omitempty"`
	// Hash is a sha256 over the context's files that .dockerignore does
	// not exclude, the Dockerfile, the args and the target.
	Hash string `json:"hash"`
}

// BuildSecret is one build secret: ID as the Dockerfile names it, File on
// the host.
type BuildSecret struct {
	ID   string `json:"id"`
	File string `json:"file"`
}

// BuildPackage is the Debian package that provides buildah.
const BuildPackage = "buildah"

// DefaultBuildImage is the local name of a built service's image when the
// Compose file gives none, as podman names local builds.
func DefaultBuildImage(project, service string) string {
	return "localhost/" + project + "-" + service + ":latest"
}

// BuildRef is the store reference of the image built from the service's
// current build (context hash); its presence means no build is needed.
func (s *Service) BuildRef() string {
	if s.Build == nil {
		return ""
	}
	h := s.Build.Hash
	if len(h) > 16 {
		h = h[len(h)-16:]
	}
	return "localhost/berth-build/" + s.Project + "-" + s.Name + ":" + h
}

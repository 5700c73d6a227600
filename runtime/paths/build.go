package paths

import "path/filepath"

// builds holds what building build: services keeps in the state dir.
func (l Layout) builds() string { return filepath.Join(l.state(), "build") }

// BuildStorage is buildah's storage for build: services: its layer cache,
// kept apart from podman's.
func (l Layout) BuildStorage() string { return filepath.Join(l.builds(), "storage") }

// BuildWork is the scratch dir of builds (archives, inline Dockerfiles).
func (l Layout) BuildWork() string { return filepath.Join(l.builds(), "work") }

// BuildJob is the job file the .build.service unit of the service with id
// reads.
func (l Layout) BuildJob(id string) (string, error) {
	return Path(filepath.Join(l.builds(), "jobs"), id+".json")
}

// BuildRun is buildah's run root (tmpfs).
func (l Layout) BuildRun() string { return filepath.Join(l.run(), "build") }

package model

import "strings"

// PodServicePrefix starts the service name a pod unit and its network
// member report (BERTH_SERVICE): ".pod" for the only pod of a file,
// ".pod.<pod>" for each pod of a file with several. No compose or
// Kubernetes container name starts with a dot.
const PodServicePrefix = ".pod"

// PodID is the sandbox key of pod of project when the project has several
// pods: <project>.<pod>. Project names never hold a '.', so it is apart
// from every project's name (the key of a file's only pod).
func PodID(project, pod string) string { return project + "." + pod }

// Key is the pod's sandbox key: its ID, else the project's name.
func (p *Pod) Key(project string) string {
	if p.ID != "" {
		return p.ID
	}
	return project
}

// Service is the service name the pod's unit and network member report.
func (p *Pod) Service() string {
	if p.ID == "" {
		return PodServicePrefix
	}
	return PodServicePrefix + "." + p.Name
}

// IsPodService tells whether a unit's service name is a pod sandbox's.
func IsPodService(service string) bool {
	return service == PodServicePrefix || strings.HasPrefix(service, PodServicePrefix+".")
}

// PodKey is the sandbox key of the pod s belongs to ("" for none).
func (s *Service) PodKey() string {
	switch {
	case s.Pod == "":
		return ""
	case s.PodID != "":
		return s.PodID
	}
	return s.Project
}

// PodService is the service name of the unit of the pod s belongs to
// (Pod.Service), "" for none.
func (s *Service) PodService() string {
	switch {
	case s.Pod == "":
		return ""
	case s.PodID == "":
		return PodServicePrefix
	}
	return PodServicePrefix + "." + s.Pod
}

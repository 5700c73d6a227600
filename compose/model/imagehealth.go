package model

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// HealthFromImage is Service.HealthSource for a check taken from the image's
// HEALTHCHECK.
const HealthFromImage = "image"

// Docker's defaults for health check fields that neither the Compose file
// nor the image sets.
const (
	DefaultHealthInterval      = 30 * time.Second
	DefaultHealthTimeout       = 30 * time.Second
	DefaultHealthRetries       = 3
	DefaultHealthStartInterval = 5 * time.Second
)

// UseImageHealth settles a service whose loader asked for the image's check
// (ImageHealth set), given the check the image's config declares (nil: none,
// or HEALTHCHECK NONE). As docker merges a container's healthcheck with its
// image's, the test comes from the image and every other field from the
// Compose file when set there, else from the image, else docker's default.
// With no image check the service has none. It reports whether Health now
// comes from the image; a service that asked for nothing is left alone.
func (s *Service) UseImageHealth(image *Health) bool {
	if s.ImageHealth == nil {
		return false
	}
	if image == nil || (len(image.Cmd) == 0 && image.HTTPGet == nil && image.TCPPort == 0) {
		s.Health, s.HealthSource = nil, ""
		return false
	}
	h := *image
	h.Cmd = append([]string(nil), image.Cmd...)
	o := s.ImageHealth
	pick := func(into *time.Duration, override, def time.Duration) {
		if override > 0 {
			*into = override
		}
		if *into <= 0 {
			*into = def
		}
	}
	pick(&h.Interval, o.Interval, DefaultHealthInterval)
	pick(&h.Timeout, o.Timeout, DefaultHealthTimeout)
	pick(&h.StartInterval, o.StartInterval, DefaultHealthStartInterval)
	if o.StartPeriod > 0 {
		h.StartPeriod = o.StartPeriod
	}
	if o.Retries > 0 {
		h.Retries = o.Retries
	}
	if h.Retries <= 0 {
		h.Retries = DefaultHealthRetries
	}
	s.Health, s.HealthSource = &h, HealthFromImage
	return true
}

// SettleImageHealth gives every service that asks for its image's
// HEALTHCHECK (ImageHealth) that check, read through lookup once per image
// (nil: the image declares none), then checks that every service_healthy
// target and every notify: healthy service has a check, and gates the
// service_healthy targets (GateHealthy).
//
// A service whose image config cannot be read (an image never pulled while
// its registry is down) runs without the image's check for now, with a
// warning in p.Warnings, unless it needs a check: then, as for a needed
// check that neither the file nor the image declares, an error naming the
// service and the image is returned (errors joined), and the caller treats
// the project as failed to load, so its running units stay as they are.
func (p *Project) SettleImageHealth(lookup func(image string) (*Health, error)) error {
	type result struct {
		h   *Health
		err error
	}
	seen := map[string]result{}
	failed := map[string]error{}
	for i := range p.Services {
		s := &p.Services[i]
		if s.ImageHealth == nil {
			continue
		}
		r, ok := seen[s.Image]
		if !ok {
			r.h, r.err = lookup(s.Image)
			seen[s.Image] = r
		}
		if r.err != nil {
			failed[s.Name] = r.err
			s.Health, s.HealthSource = nil, ""
			continue
		}
		s.UseImageHealth(r.h)
	}
	needed := map[string]string{} // service -> why it needs a check
	for _, s := range p.Services {
		for _, dep := range sortedKeys(s.DependsOn) {
			if s.DependsOn[dep].Condition == ConditionHealthy {
				needed[dep] = "service " + s.Name + ": depends_on " + dep + ": service_healthy"
			}
		}
		if s.Notify == NotifyHealthy {
			needed[s.Name] = "service " + s.Name + ": notify: healthy"
		}
	}
	var errs []error
	for _, s := range p.Services {
		why, need := needed[s.Name]
		switch err := failed[s.Name]; {
		case err != nil && need:
			errs = append(errs, fmt.Errorf("%s needs a health check, and the HEALTHCHECK of image %s is unknown: %w", why, s.Image, err))
		case err != nil:
			p.Warnings = append(p.Warnings, fmt.Sprintf("service %s runs without its image's HEALTHCHECK for now: %v", s.Name, err))
		case need && s.Health == nil:
			errs = append(errs, fmt.Errorf("%s needs a health check, and neither the Compose file nor image %s declares one", why, s.Image))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	p.GateHealthy()
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package network

import "os"

// oneOffRunning reports whether id is a one-off container (berth run)
// that may still run: its spec is removed when its unit ends. No loaded
// project declares a one-off, so GC must not release its address.
func (p Paths) oneOffRunning(id string) bool {
	path, err := p.layout().OneOffSpec(id)
	if err != nil {
		return false
	}
	_, err = os.Stat(path)
	return err == nil
}

package runtime

import (
	"errors"
	"slices"
)

// undoStack is the error path of a start: each phase that makes something
// pushes the step that removes it, before making it, so a phase that fails
// half-way is undone too (every step is a no-op for what does not exist).
// A failed start unwinds the stack newest first; a successful one drops it,
// as the container then belongs to systemd (berth cleanup, ExecStopPost=).
type undoStack struct {
	steps []undoStep
}

type undoStep struct {
	name string
	fn   func() error
}

// push adds the step that undoes what the current phase is about to make.
func (u *undoStack) push(name string, fn func() error) {
	u.steps = append(u.steps, undoStep{name: name, fn: fn})
}

// keep drops the steps called name: what they would remove must stay even
// if the start fails later.
func (u *undoStack) keep(name string) {
	u.steps = slices.DeleteFunc(u.steps, func(s undoStep) bool { return s.name == name })
}

// unwind runs every step, newest first, and empties the stack. A step that
// fails does not stop the others; the failures are joined.
func (u *undoStack) unwind() error {
	var errs []error
	for i := len(u.steps) - 1; i >= 0; i-- {
		if err := u.steps[i].fn(); err != nil {
			errs = append(errs, err)
		}
	}
	u.steps = nil
	return errors.Join(errs...)
}

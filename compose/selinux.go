package compose

import (
	"fmt"
	"os"
	"strings"
)

// selinuxEnabled tells whether the host has SELinux enabled (selinuxfs is
// mounted), as docker decides whether `z`/`Z` bind options mean anything.
func (o options) selinuxEnabled() bool {
	if o.selinux != nil {
		return *o.selinux
	}
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// warnRelabel reports the bind mounts asking for SELinux relabelling (`z`,
// `Z`): where SELinux is off the option means nothing, as under docker,
// and is ignored quietly; where it is on berth does not relabel yet, and
// says so once per project, naming where, instead of once per mount.
func (l *loader) warnRelabel() {
	if len(l.relabel) == 0 || !l.opts.selinuxEnabled() {
		return
	}
	all := sortWarnings(l.relabel) // "file:line", in file order
	where := all
	if len(where) > 5 {
		where = append(where[:5:5], fmt.Sprintf("and %d more", len(all)-5))
	}
	l.warns = append(l.warns, fmt.Sprintf("%s: SELinux relabelling (z, Z) of %d bind mount(s) is not done by berth: label the sources container_file_t yourself (chcon -Rt container_file_t SRC); at %s",
		all[0], len(all), strings.Join(where, ", ")))
}

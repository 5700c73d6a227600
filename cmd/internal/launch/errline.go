package launch

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// errPriority is sd-daemon(3)'s prefix for a line at priority err. journald
// reads it off each line a unit writes to stdout/stderr (the default
// SyslogLevelPrefix=yes) and stores the line as PRIORITY=3.
const errPriority = "<3>"

// PrintError writes a command's final error to stderr as "prog: err", one
// journal entry per line. When stderr is the journal (a unit's output),
// every line is marked priority err: that is how berth tells the reason a
// unit failed from the lines logged before it (systemd/journal reads the
// err lines of the failed invocation), and `journalctl -p err` finds it.
func PrintError(prog string, err error) {
	printError(os.Stderr, toJournal(os.Stderr), prog, err)
}

func printError(w io.Writer, journal bool, prog string, err error) {
	prefix := ""
	if journal {
		prefix = errPriority
	}
	var b strings.Builder
	for _, line := range strings.Split(prog+": "+err.Error(), "\n") {
		fmt.Fprintf(&b, "%s%s\n", prefix, line)
	}
	_, _ = io.WriteString(w, b.String())
}

// toJournal reports whether f is the journal stream systemd connected the
// unit's output to: $JOURNAL_STREAM holds that stream's "device:inode"
// (systemd.exec(5)).
func toJournal(f *os.File) bool {
	want := os.Getenv("JOURNAL_STREAM")
	if want == "" {
		return false
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino) == want
}

package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// entry is one journal entry as journalctl --output=json prints it: a
// field is a string, an array of bytes (binary or non-UTF-8 data), or an
// array of either when the entry has the field more than once.
type entry map[string]json.RawMessage

// field returns the first value of name, "" if absent.
func (e entry) field(name string) string {
	raw, ok := e[name]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b []byte
	var nums []int
	if json.Unmarshal(raw, &nums) == nil {
		for _, n := range nums {
			b = append(b, byte(n))
		}
		return string(b)
	}
	var many []json.RawMessage
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
		return entry{name: many[0]}.field(name)
	}
	return ""
}

// priority is the entry's syslog priority; 6 (info) when absent, as
// journald stores stream lines without a prefix.
func (e entry) priority() int {
	p, err := strconv.Atoi(e.field("PRIORITY"))
	if err != nil {
		return 6
	}
	return p
}

// parse reads journalctl's JSON output, one entry per line.
func parse(out []byte) ([]entry, error) {
	var es []entry
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("decoding journalctl output: %w", err)
		}
		es = append(es, e)
	}
	return es, sc.Err()
}

// errPriority is syslog's err: berth-launcher's final error line, and
// systemd's own errors about a unit (a missing executable).
const errPriority = 3

// pick chooses, from one invocation's entries (oldest first), the lines
// that say why it failed, at most n:
//
//   - the error lines (priority err or worse) of the first of the unit's
//     processes that logged one: the launcher's `run` error, not the
//     cleanup errors that follow it from ExecStopPost=;
//   - else systemd's own error messages about the invocation, leaving out
//     its "Failed to start" job message, which says nothing new;
//   - else the unit's last n lines.
//
// final says whether the entries held an error line of the unit's own
// processes, i.e. whether waiting longer could find a better reason.
func pick(es []entry, n int) (lines []string, final bool) {
	var own, pid1 []entry
	for _, e := range es {
		if e.field("_PID") == "1" {
			if e.field("JOB_RESULT") == "" && e.priority() <= errPriority {
				pid1 = append(pid1, e)
			}
			continue
		}
		own = append(own, e)
	}
	pid := ""
	for _, e := range own {
		if e.priority() > errPriority {
			continue
		}
		if pid == "" {
			pid = e.field("_PID")
		}
		if e.field("_PID") == pid && len(lines) < n {
			lines = append(lines, e.field("MESSAGE"))
		}
	}
	if len(lines) > 0 {
		return lines, true
	}
	for _, e := range pid1 {
		if len(lines) < n {
			lines = append(lines, e.field("MESSAGE"))
		}
	}
	if len(lines) > 0 {
		// systemd failed the invocation before the unit's processes ran.
		return lines, len(own) == 0
	}
	if len(own) > n {
		own = own[len(own)-n:]
	}
	for _, e := range own {
		lines = append(lines, e.field("MESSAGE"))
	}
	return lines, false
}

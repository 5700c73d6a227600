package units

import (
	"fmt"
	"strings"
	"unicode"
)

// Unit options hold values in unit-file syntax (systemd.syntax(7)): what
// Text writes and what go-systemd's unit.Deserialize reads back. Values
// that come from the model are escaped on the way in by the helpers here,
// and the D-Bus conversion (Properties) undoes exactly that escaping, so a
// transient unit and a unit file run the same argv with the same
// environment. Control characters never get this far: the loader refuses
// them with file and line, and checkValues refuses them again.

// printf escapes systemd's specifiers: every setting berth writes from the
// model expands %x, so a literal '%' is written "%%".
func printf(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// unprintf undoes printf.
func unprintf(s string) string { return strings.ReplaceAll(s, "%%", "%") }

// execLine is a command line for ExecStart= and its kin: each argument
// quoted when it needs it, with '%' (specifiers) and '$' (environment
// substitution, which systemd also applies to D-Bus commands) doubled.
func execLine(args ...string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(printf(quoteWord(a)), "$", "$$")
	}
	return strings.Join(out, " ")
}

// envLine is one Environment= assignment, quoted when it needs it.
func envLine(key, value string) string { return printf(quoteWord(key + "=" + value)) }

// quoteWord writes s as one word of a systemd command line or assignment
// list: bare when it holds nothing special, else in double quotes with
// '\' and '"' escaped. A lone ";" (which separates commands) is "\;".
func quoteWord(s string) string {
	if s == ";" {
		return `\;`
	}
	if s != "" && !strings.ContainsAny(s, " \t\"'\\") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// splitWords splits a value written by execLine or envLine (or by hand in
// the same syntax) into its words, undoing the quoting: double and single
// quotes, and a backslash before a backslash, a quote, ';' or whitespace.
// Specifiers ('%%') are left for the caller.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("%q ends in a backslash", s)
			}
			i++
			switch e := s[i]; e {
			case '\\', '"', '\'', ';', ' ', '\t':
				cur.WriteByte(e)
			default:
				return nil, fmt.Errorf("%q: unsupported escape \\%c", s, e)
			}
			inWord = true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%q: unterminated quote", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// checkValues is the last guard before a unit is rendered: no value may
// hold a control character (systemd ends a line at '\n' and at '\r') or
// end in a backslash (which continues the line).
func checkValues(u *Unit) error {
	for _, o := range u.Options {
		for i, r := range o.Value {
			if control(r) {
				return fmt.Errorf("unit %s: %s=%q: control character %U at byte %d", u.Name, o.Name, o.Value, r, i)
			}
		}
		if strings.HasSuffix(o.Value, `\`) {
			return fmt.Errorf("unit %s: %s=%q ends in a backslash", u.Name, o.Name, o.Value)
		}
	}
	return nil
}

// control is what no unit value may hold: C0 and C1 control characters,
// DEL, and the Unicode line and paragraph separators.
func control(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }

package units

import (
	"slices"
	"strings"
	"testing"
)

// FuzzExecLine: every argv execLine writes splits back to itself, after
// systemd's specifier expansion ('%%') and its "$$" at exec time; every
// assignment envLine writes splits back to one word.
func FuzzExecLine(f *testing.F) {
	for _, s := range []string{"", "plain", "a b", `a"b`, `a\b`, "x%n", "$HOME", "--host-network", ";", "'", `\`, "a\tb"} {
		f.Add(s, "/var/lib/berth/specs/p-web.json")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.ContainsFunc(a+b, control) {
			t.Skip("refused before rendering")
		}
		args := []string{"/usr/bin/berth", "run", a, "--", b}
		line := execLine(args...)
		words, err := splitWords(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		for i := range words {
			words[i] = strings.ReplaceAll(unprintf(words[i]), "$$", "$")
		}
		if !slices.Equal(words, args) {
			t.Fatalf("execLine(%q) = %q splits to %q", args, line, words)
		}
		env := envLine("K", a)
		ws, err := splitWords(env)
		if err != nil || len(ws) != 1 || unprintf(ws[0]) != "K="+a {
			t.Fatalf("envLine(K, %q) = %q splits to %q, %v", a, env, ws, err)
		}
	})
}

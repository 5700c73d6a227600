package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// formatFlag is a --format flag: one of choices, the first by default. A
// value not among them fails when the flags are parsed, before any work.
type formatFlag struct {
	p       *string
	choices []string
}

func (f formatFlag) String() string { return *f.p }
func (f formatFlag) Type() string   { return "format" }

func (f formatFlag) Set(s string) error {
	if !slices.Contains(f.choices, s) {
		return fmt.Errorf("valid: %s", strings.Join(f.choices, ", "))
	}
	*f.p = s
	return nil
}

// addFormatFlag registers --format on fs; note is added to its help.
func addFormatFlag(fs *pflag.FlagSet, p *string, note string, choices ...string) {
	*p = choices[0]
	fs.Var(formatFlag{p, choices}, "format", "output format: "+strings.Join(choices, " or ")+note)
}

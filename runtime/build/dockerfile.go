package build

import (
	"os"
	"regexp"
	"strconv"
	"strings"
)

// instruction is one logical Dockerfile line: continuation lines joined.
type instruction struct {
	Line int    // 1-based line it starts on
	Text string // whitespace collapsed
}

// stages splits a Dockerfile into instructions per build stage; stage 0
// holds what comes before the first FROM (global ARGs).
func stages(dockerfile string) [][]instruction {
	out := [][]instruction{nil}
	lines := strings.Split(dockerfile, "\n")
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		start := i + 1
		// A trailing backslash continues the instruction; comment lines
		// inside it are dropped, as docker does.
		for strings.HasSuffix(t, "\\") && i+1 < len(lines) {
			i++
			next := strings.TrimSpace(lines[i])
			if strings.HasPrefix(next, "#") {
				continue
			}
			t = strings.TrimSuffix(t, "\\") + " " + next
		}
		ins := instruction{Line: start, Text: strings.Join(strings.Fields(t), " ")}
		if strings.EqualFold(firstWord(ins.Text), "FROM") {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], ins)
	}
	return out
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

// stepLine matches buildah's "[2/3] STEP 4/7: RUN make" progress line.
var stepLine = regexp.MustCompile(`^(?:\[(\d+)/\d+\] )?STEP (\d+)/\d+: (.*)$`)

// failedLine finds the Dockerfile line of the step buildah was running last
// in log: the step's stage and number locate the instruction, and its text
// confirms it (else the text alone is searched). 0 when unknown.
func failedLine(dockerfile string, log []string) (line int, text string) {
	stage, step := 1, 0
	for _, l := range log {
		if m := stepLine.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			stage = 1
			if m[1] != "" {
				stage, _ = strconv.Atoi(m[1])
			}
			step, _ = strconv.Atoi(m[2])
			text = strings.Join(strings.Fields(m[3]), " ")
		}
	}
	if step == 0 {
		return 0, ""
	}
	st := stages(dockerfile)
	if stage < len(st) && step <= len(st[stage]) {
		if ins := st[stage][step-1]; sameInstruction(ins.Text, text) {
			return ins.Line, ins.Text
		}
	}
	for _, s := range st {
		for _, ins := range s {
			if sameInstruction(ins.Text, text) {
				return ins.Line, ins.Text
			}
		}
	}
	return 0, text
}

// sameInstruction compares an instruction with buildah's rendering of it,
// which may upper-case the keyword.
func sameInstruction(ins, step string) bool {
	iw, irest, _ := strings.Cut(ins, " ")
	sw, srest, _ := strings.Cut(step, " ")
	return strings.EqualFold(iw, sw) && irest == srest
}

// fromRegistries lists the registries the FROM lines pull from (host or
// host:port), with build args and global ARG defaults substituted.
func fromRegistries(dockerfile string, args map[string]string) []string {
	vars := map[string]string{}
	st := stages(dockerfile)
	for _, ins := range st[0] {
		if k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(ins.Text, firstWord(ins.Text))), "="); ok && strings.EqualFold(firstWord(ins.Text), "ARG") {
			vars[k] = v
		}
	}
	for k, v := range args {
		vars[k] = v
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range st[1:] {
		fields := strings.Fields(s[0].Text)[1:]
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
			fields = fields[1:]
		}
		if len(fields) == 0 {
			continue
		}
		ref := os.Expand(fields[0], func(k string) string { return vars[k] })
		first, _, ok := strings.Cut(ref, "/")
		if !ok || !(strings.ContainsAny(first, ".:") || first == "localhost") || seen[first] {
			continue
		}
		seen[first] = true
		out = append(out, first)
	}
	return out
}

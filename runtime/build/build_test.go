package build

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const twoStage = `# syntax comment
ARG BASE=127.0.0.1:5000/busybox:latest
FROM $BASE AS builder
RUN echo hi > /x \
    && cat /x
COPY app.sh /app.sh

FROM ${BASE}
COPY --from=builder /x /x
RUN false
USER 1000
`

func TestFailedLineFindsTheStepOfTheRightStage(t *testing.T) {
	log := []string{"[1/2] STEP 1/4: FROM 127.0.0.1:5000/busybox:latest AS builder", "[1/2] STEP 2/4: RUN echo hi > /x && cat /x",
		"[2/2] STEP 1/4: FROM 127.0.0.1:5000/busybox:latest", "[2/2] STEP 2/4: COPY --from=builder /x /x", "[2/2] STEP 3/4: RUN false",
		"Error: building at STEP \"RUN false\": while running runtime: exit status 1"}
	line, text := failedLine(twoStage, log)
	if line != 10 || text != "RUN false" {
		t.Fatalf("failedLine = %d %q, want 10 \"RUN false\"", line, text)
	}
	if line, _ := failedLine(twoStage, log[:2]); line != 4 {
		t.Fatalf("a continued RUN: line %d, want 4", line)
	}
}

func TestFailureNamesFileLineAndTail(t *testing.T) {
	df := "FROM scratch\nCOPY busybox /bin/busybox\nFROBNICATE x\n"
	log := []string{"STEP 1/3: FROM scratch", "STEP 2/3: COPY busybox /bin/busybox", "STEP 3/3: FROBNICATE x",
		`Error: building at STEP "FROBNICATE ": Build error: Unknown instruction: "FROBNICATE"`}
	runErr := exec.Command("sh", "-c", "exit 1").Run()
	err := failure("/srv/app/Dockerfile", df, log, runErr)
	msg := err.Error()
	for _, want := range []string{"/srv/app/Dockerfile:3: FROBNICATE x", `Unknown instruction: "FROBNICATE"`, "build log tail:", "STEP 2/3"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if err := failure("Dockerfile", df, nil, errors.New("exec: not started")); !strings.Contains(err.Error(), "running buildah") {
		t.Errorf("a buildah that did not run: %v", err)
	}
}

func TestFromRegistriesSubstitutesArgs(t *testing.T) {
	got := fromRegistries(twoStage, nil)
	if !slices.Equal(got, []string{"127.0.0.1:5000"}) {
		t.Fatalf("fromRegistries = %v", got)
	}
	got = fromRegistries(twoStage, map[string]string{"BASE": "busybox"})
	if len(got) != 0 {
		t.Fatalf("a docker.io short name: %v", got)
	}
}

func TestArgsUseRuncDockerFormatAndArchive(t *testing.T) {
	j := Job{Root: "/s", RunRoot: "/r"}
	j.Build.Context, j.Build.Network, j.Build.Target = "/ctx", "none", "final"
	j.Build.Args = map[string]string{"B": "2", "A": "1"}
	got := strings.Join(Args(j, "/ctx/Dockerfile", "/w/i.tar"), " ")
	want := "--root /s --runroot /r build --runtime runc --format docker --isolation oci --layers --ulimit nofile=1024:1024 --network none --file /ctx/Dockerfile --build-arg A=1 --build-arg B=2 --target final --tag docker-archive:/w/i.tar /ctx"
	if got != want {
		t.Fatalf("Args =\n%s\nwant\n%s", got, want)
	}
}

func TestTailWriterKeepsLastLines(t *testing.T) {
	tw := &tailWriter{n: 2}
	tw.Write([]byte("a\nb"))
	tw.Write([]byte("c\nd\ne"))
	if got := tw.lines(); !slices.Equal(got, []string{"bc", "d", "e"}) {
		t.Fatalf("lines = %q", got)
	}
}

func TestMissingBuildahNamesThePackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := Check()
	if !errors.Is(err, ErrNoBuildah) || !strings.Contains(err.Error(), "install Debian package buildah") {
		t.Fatalf("Check without buildah = %v", err)
	}
	_, err = Run(t.Context(), Job{}, nil, nil)
	if !errors.Is(err, ErrNoBuildah) {
		t.Fatalf("Run without buildah = %v", err)
	}
}

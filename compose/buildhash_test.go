package compose

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

func TestBuildHashFollowsWhatTheBuildReads(t *testing.T) {
	dir := t.TempDir()
	put := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("Dockerfile", "FROM busybox\nCOPY . /app\n")
	put("index.html", "v1")
	put(".dockerignore", "logs\n*.tmp\n")
	put("logs/a.log", "1")
	b := &model.Build{Context: dir, Dockerfile: filepath.Join(dir, "Dockerfile"), Args: map[string]string{"A": "1"}}
	hash := func() string {
		t.Helper()
		h, err := buildHash(b)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	first := hash()
	put("logs/b.log", "2")
	put("x.tmp", "scratch")
	if got := hash(); got != first {
		t.Fatalf("files .dockerignore excludes changed the hash")
	}
	put("index.html", "v2")
	second := hash()
	if second == first {
		t.Fatalf("an edited context file left the hash unchanged")
	}
	b.Args["A"] = "2"
	if hash() == second {
		t.Fatalf("a changed build arg left the hash unchanged")
	}
	b.Target = "final"
	third := hash()
	put("Dockerfile", "FROM busybox\n")
	if hash() == third {
		t.Fatalf("an edited Dockerfile left the hash unchanged")
	}
}

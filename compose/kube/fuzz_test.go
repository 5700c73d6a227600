package kube_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/kube"
)

// FuzzParse: any input either loads or fails with an error that names the
// file; nothing panics.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../../examples/kube/*.yaml")
	more, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range append(seeds, more...) {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file := filepath.Join(t.TempDir(), "pod.yaml")
		_, err := kube.Parse("fuzz", file, b)
		if err != nil && !strings.Contains(err.Error(), "pod.yaml") {
			t.Fatalf("the error does not name the file: %v", err)
		}
	})
}

// Command pushbusybox builds the busybox test image from Debian's
// busybox-static and pushes it, for `make example`.
package main

import (
	"fmt"
	"os"

	"github.com/berth-dev/berth/hack/e2e"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: pushbusybox REGISTRY/REPO:TAG")
		os.Exit(2)
	}
	if err := push(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "pushbusybox:", err)
		os.Exit(1)
	}
}

func push(ref string) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	img, err := e2e.BuildBusybox()
	if err != nil {
		return err
	}
	if err := remote.Write(r, img); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("pushed %s@%s\n", ref, d)
	return nil
}

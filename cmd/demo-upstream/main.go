// Command demo-upstream stands in for the internet in `make demo`: a local
// registry holding random images under the embedded default manifest's real
// names, a file server holding generated files, a package index holding
// a tiny stand-in wheel for each requirement of the manifest's python
// section, and a signed apt repository for each repository URL of its apt
// entries, holding small generated .debs under the wanted packages' names
// and the signing keys at the key URLs (see bundletest). It writes, into
// -dir, the manifest to build (the default one, or the -manifest file,
// its files' sha256 and its apt keys' fingerprints replaced with those of
// the generated content and keys), a --mirrors-file that sends every
// source to it, and "ready" once it serves; then it runs until SIGINT or
// SIGTERM.
//
// It is a demo and test aid, never part of an install.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"go.yaml.in/yaml/v3"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

func main() {
	dir := flag.String("dir", "", "directory to write manifest.yaml, mirrors.txt and ready into")
	layer := flag.Int64("layer-size", 64<<10, "bytes of each image's own random layer")
	manifest := flag.String("manifest", "", "manifest to stand in for (default: the embedded default manifest)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "demo-upstream: -dir is required")
		os.Exit(2)
	}
	if err := run(*dir, *manifest, *layer); err != nil {
		fmt.Fprintln(os.Stderr, "demo-upstream:", err)
		os.Exit(1)
	}
}

func run(dir, manifest string, layer int64) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := manifests.Default()
	if manifest != "" {
		var err error
		if m, err = manifests.Load(manifest); err != nil {
			return err
		}
	}
	u, err := bundletest.Start(m, bundletest.Options{LayerSize: layer})
	if err != nil {
		return err
	}
	defer u.Close()
	data, err := yaml.Marshal(u.Manifest)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.yaml"), data, 0o644); err != nil {
		return err
	}
	mirrors := strings.Join(u.MirrorFlags(), "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "mirrors.txt"), []byte(mirrors), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
		return err
	}
	python := 0
	if u.PyPI != nil {
		python = len(u.PyPI.Dists())
	}
	fmt.Fprintf(os.Stderr, "demo-upstream: %d images at %s, %d files, %d Python package files and %d apt repositories (%d keys) at %s\n",
		len(u.Images), u.Registry.URL, len(u.Manifest.Files), python, len(u.Apt), len(u.AptKeys), u.Files.URL)
	<-ctx.Done()
	return nil
}

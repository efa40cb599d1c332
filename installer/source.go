package installer

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// paiSourcePath is where the mirror serves pai v1.8.0's source archive (the
// default manifest's devbox-sources group).
const paiSourcePath = "/github.com/microsoft/pai/archive/refs/tags/v1.8.0.tar.gz"

// ensurePaiTree unpacks the mirror's pai v1.8.0 source into dir, once: a
// finished unpack leaves dir/.paimirror-unpacked, and a half-finished one is
// started again. When the lock came from Options.Bundle, the source does
// too.
func (in *install) ensurePaiTree(ctx context.Context, dir string) error {
	marker := filepath.Join(dir, ".paimirror-unpacked")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if in.lockFromBundle {
		if err := in.unpackBundledPai(dir); err != nil {
			return err
		}
		return os.WriteFile(marker, nil, 0o644)
	}
	u := in.scheme + "://" + in.mirror.Addr + paiSourcePath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching pai's source from the mirror: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching pai's source: GET %s: %s (the bundle needs the devbox-sources group, or pass --pai DIR)", u, resp.Status)
	}
	if err := untar(resp.Body, dir, 1); err != nil {
		return fmt.Errorf("unpacking pai's source: %w", err)
	}
	return os.WriteFile(marker, nil, 0o644)
}

// unpackBundledPai unpacks pai's source from Options.Bundle into dir.
func (in *install) unpackBundledPai(dir string) error {
	for _, f := range in.bundle.Lock.Files {
		if !slices.Contains(f.Paths, paiSourcePath) {
			continue
		}
		r, err := in.bundle.Blob(f.Digest())
		if err != nil {
			return fmt.Errorf("reading pai's source from %s: %w", in.bundleName(), err)
		}
		if err := untar(r, dir, 1); err != nil {
			return fmt.Errorf("unpacking pai's source from %s: %w", in.bundleName(), err)
		}
		return nil
	}
	return fmt.Errorf("%s does not hold pai's source (%s): build the bundle with the devbox-sources group, or pass --pai DIR", in.bundleName(), paiSourcePath)
}

// untar extracts a gzipped tar into dir (made if missing), dropping the
// first strip path elements of each name. Names that are absolute or climb
// out of dir, links that point out of it, and entries that would be
// written outside it through links the archive made (os.Root) are
// refused; only directories, regular files and symbolic links are made.
func untar(r io.Reader, dir string, strip int) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	// Every entry is made through root, which refuses a path that
	// resolves outside dir, through links the archive made earlier too
	// (a link to "." and another to "l/.." pass the checks below one by
	// one).
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(h.Name)
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("archive entry %q is outside the archive", h.Name)
		}
		parts := strings.Split(name, "/")
		if len(parts) <= strip {
			continue
		}
		rel := path.Join(parts[strip:]...)
		target := filepath.FromSlash(rel)
		outside := func(err error) error {
			return fmt.Errorf("archive entry %q: %w (does it write through a link to outside the archive?)", h.Name, err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(target, 0o755); err != nil {
				return outside(err)
			}
		case tar.TypeReg:
			if err := root.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return outside(err)
			}
			f, err := root.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, os.FileMode(h.Mode)&0o755|0o644)
			if err != nil {
				return outside(err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			dest := path.Clean(path.Join(path.Dir(rel), h.Linkname))
			if path.IsAbs(h.Linkname) || dest == ".." || strings.HasPrefix(dest, "../") {
				return fmt.Errorf("archive link %q points outside the archive (%s)", h.Name, h.Linkname)
			}
			if err := root.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return outside(err)
			}
			if err := root.Symlink(h.Linkname, target); err != nil {
				return outside(err)
			}
		case tar.TypeXGlobalHeader:
			// GitHub's archives carry the commit in one; nothing to make.
		default:
			return fmt.Errorf("archive entry %q has type %q, which is not unpacked", h.Name, h.Typeflag)
		}
	}
}

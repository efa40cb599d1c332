package bundle_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/pypi/pypitest"
)

// resumePayload is the size of the random content of each large item:
// big enough for the engine to keep its state (2 MiB and more), small
// enough for one connection (blobs of 16 MiB and more are split).
const resumePayload = 12 << 20

// TestBuildResumesInsideItems interrupts a build inside a large file, a
// large python wheel and a large .deb, then reruns it. The upstream stalls
// the item's body after a third of the payload, and the build is cancelled
// once a quarter has arrived, so the first run always stops inside the
// item. The rerun must ask the upstream for the rest only (counted at the
// server: the item's size less what the first run's state says it kept),
// with a Range request from there, and the bundle must verify.
func TestBuildResumesInsideItems(t *testing.T) {
	const aptKey = `    key:
      url: http://archive.example.com/ubuntu/key.gpg
      fingerprint: 790B C727 7767 219C 42C8 6F93 3B4F E6AC C0B2 1F32
`
	cases := []struct {
		name     string
		manifest string
		// opts makes the upstream serve the item with payload in it.
		opts func(t *testing.T, payload []byte) bundletest.Options
		// item is the item's name in build events, path where the
		// upstream serves it.
		item, path string
		// content returns the item's bytes as the upstream serves them.
		content func(t *testing.T, u *bundletest.Upstream) []byte
	}{
		{
			name: "file",
			manifest: `name: resume-file
files:
  - url: https://downloads.example.com/big/big.bin
    sha256: 0000000000000000000000000000000000000000000000000000000000000000
`,
			opts: func(t *testing.T, payload []byte) bundletest.Options {
				return bundletest.Options{FileContent: map[string][]byte{"https://downloads.example.com/big/big.bin": payload}}
			},
			item: "big.bin",
			path: "/downloads.example.com/big/big.bin",
			content: func(t *testing.T, u *bundletest.Upstream) []byte {
				return u.FileData["https://downloads.example.com/big/big.bin"]
			},
		},
		{
			// The wheel's dependencies are in the index's JSON, so
			// resolution reads only that: the wheel comes through the
			// engine alone.
			name: "python wheel",
			manifest: `name: resume-python
python:
  targets:
    - {name: ubuntu-20.04, python: "3.8", platform: manylinux_x86_64, glibc: "2.31"}
  installs:
    - name: big
      requirements: [bigwheel]
`,
			opts: func(t *testing.T, payload []byte) bundletest.Options {
				big, err := pypitest.Wheel(pypitest.Package{Name: "bigwheel", Version: "1.0", Requires: []string{"tiny"},
					Files: map[string][]byte{"bigwheel/data.bin": payload}}, "py3-none-any")
				if err != nil {
					t.Fatal(err)
				}
				tiny, err := pypitest.Wheel(pypitest.Package{Name: "tiny", Version: "1.0"}, "py3-none-any")
				if err != nil {
					t.Fatal(err)
				}
				return bundletest.Options{PythonDists: []*pypitest.Dist{big, tiny}}
			},
			item: "python file bigwheel-1.0-py3-none-any.whl",
			path: "/" + strings.TrimPrefix(bundletest.PythonFileHost, "https://") + "/packages/bigwheel-1.0-py3-none-any.whl",
			content: func(t *testing.T, u *bundletest.Upstream) []byte {
				return distData(t, u, "bigwheel-1.0-py3-none-any.whl")
			},
		},
		{
			// An sdist: the index gives no dependencies for it (PyPI's
			// JSON says null), so the resolver reads them from the file
			// itself, which must come through the engine too.
			name: "python sdist read for its metadata",
			manifest: `name: resume-python-sdist
python:
  targets:
    - {name: ubuntu-20.04, python: "3.8", platform: manylinux_x86_64, glibc: "2.31"}
  installs:
    - name: big
      requirements: [bigsdist]
`,
			opts: func(t *testing.T, payload []byte) bundletest.Options {
				big, err := pypitest.Sdist(pypitest.Package{Name: "bigsdist", Version: "1.0", Requires: []string{"tiny"},
					Files: map[string][]byte{"data.bin": payload}}, "")
				if err != nil {
					t.Fatal(err)
				}
				tiny, err := pypitest.Wheel(pypitest.Package{Name: "tiny", Version: "1.0"}, "py3-none-any")
				if err != nil {
					t.Fatal(err)
				}
				return bundletest.Options{PythonDists: []*pypitest.Dist{big, tiny}}
			},
			item:    "python file bigsdist-1.0.tar.gz",
			path:    "/" + strings.TrimPrefix(bundletest.PythonFileHost, "https://") + "/packages/bigsdist-1.0.tar.gz",
			content: func(t *testing.T, u *bundletest.Upstream) []byte { return distData(t, u, "bigsdist-1.0.tar.gz") },
		},
		{
			name: "deb",
			manifest: `name: resume-apt
apt:
  - name: example
    target: ubuntu-20.04
    url: http://archive.example.com/ubuntu
    suites: [focal]
    components: [main]
` + aptKey + `    packages: [bigpkg]
    sources: false
`,
			opts: func(t *testing.T, payload []byte) bundletest.Options {
				return bundletest.Options{AptFiles: map[string]map[string][]byte{"bigpkg": {"/usr/share/bigpkg/data.bin": payload}}}
			},
			item: "apt package bigpkg=1.0",
			path: "/archive.example.com/ubuntu/pool/main/b/bigpkg/bigpkg_1.0_amd64.deb",
			content: func(t *testing.T, u *bundletest.Upstream) []byte {
				data, ok := u.Apt["http://archive.example.com/ubuntu"].File("pool/main/b/bigpkg/bigpkg_1.0_amd64.deb")
				if !ok {
					t.Fatal("the repository holds no bigpkg .deb")
				}
				return data
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			payload := make([]byte, resumePayload)
			rand.Read(payload)
			var stalling atomic.Bool
			uo := c.opts(t, payload)
			uo.Stall = func(r *http.Request) int64 {
				if stalling.Load() && r.URL.Path == c.path {
					return resumePayload / 3
				}
				return -1
			}
			u := startUpstream(t, parse(t, c.manifest), uo)
			data := c.content(t, u)
			size := int64(len(data))
			d := digest.FromBytes(data)
			opts := buildOpts(t, u)

			// The first run: cancelled once a quarter of the item has
			// arrived (the upstream sends no more than a third).
			stalling.Store(true)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var arrived int64
			var interrupted, finished atomic.Bool
			opts.Progress = func(e bundle.Event) {
				if e.Item != c.item {
					return
				}
				switch e.Kind {
				case bundle.EventBytes:
					if arrived += e.Bytes; arrived >= resumePayload/4 && !interrupted.Swap(true) {
						cancel()
					}
				case bundle.EventDone:
					finished.Store(true)
				}
			}
			_, err := bundle.Build(ctx, u.Manifest, opts)
			switch {
			case finished.Load():
				t.Fatalf("the first build stored %s despite the stall", c.item)
			case !interrupted.Load():
				t.Fatalf("the first build was not interrupted inside %s: %v", c.item, err)
			case err == nil:
				t.Fatal("the interrupted build succeeded")
			}
			kept := keptOf(t, opts.Output+".partial.d", d)
			if kept < resumePayload/4 || kept > resumePayload/3 {
				t.Fatalf("the interrupted build kept %d bytes of %s; want between the %d reported and the %d the upstream sent",
					kept, c.item, resumePayload/4, resumePayload/3)
			}

			// The rerun, with the same output.
			stalling.Store(false)
			sentBefore, rangesBefore := u.BytesSent(c.path), len(u.Ranges(c.path))
			opts.Progress = nil
			res, err := bundle.Build(context.Background(), u.Manifest, opts)
			if err != nil {
				t.Fatalf("rerun: %v", err)
			}
			b := openVerified(t, res.Path)
			if n, ok := b.BlobSize(d); !ok || n != size {
				t.Errorf("the bundle holds %s as %d bytes (%v); want %d", c.item, n, ok, size)
			}

			const slack = 64 << 10
			sent := u.BytesSent(c.path) - sentBefore
			t.Logf("%s: %d bytes; the first run kept %d, the rerun was sent %d, asking with Range %q",
				c.item, size, kept, sent, u.Ranges(c.path)[rangesBefore:])
			if missing := size - kept; sent < missing || sent > missing+slack {
				t.Errorf("the rerun was sent %d bytes of %s; the first run had kept %d of %d, so want %d (up to %d more)",
					sent, c.item, kept, size, missing, slack)
			}
			ranges := u.Ranges(c.path)[rangesBefore:]
			if len(ranges) == 0 {
				t.Fatalf("the rerun did not ask for %s", c.item)
			}
			if want := fmt.Sprintf("bytes=%d-", kept); !strings.HasPrefix(ranges[0], want) {
				t.Errorf("the rerun asked for %s with Range %q; want %q...", c.item, ranges[0], want)
			}
			for _, r := range ranges[1:] {
				if r == "" {
					t.Errorf("the rerun asked for %s again without a Range (requests: %q)", c.item, ranges)
				}
			}
		})
	}
}

// keptOf returns the bytes the download states in dir say are kept of
// the blob digest; it fails when none describes it.
func keptOf(t *testing.T, dir string, want digest.Digest) int64 {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.state"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Digest   digest.Digest `json:"digest"`
			Segments [][3]int64    `json:"segments"`
		}
		// The state is padded with spaces: the first JSON value counts.
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if st.Digest != want {
			continue
		}
		var n int64
		for _, g := range st.Segments {
			n += g[2] - g[0]
		}
		return n
	}
	t.Fatalf("no download state in %s describes %s (%d states)", dir, want, len(paths))
	return 0
}

// distData returns the bytes of the upstream index's file filename.
func distData(t *testing.T, u *bundletest.Upstream, filename string) []byte {
	t.Helper()
	for _, d := range u.PyPI.Dists() {
		if d.Filename == filename {
			return d.Data
		}
	}
	t.Fatalf("the index holds no %s", filename)
	return nil
}

package installer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type tarEntry struct {
	name, body, link string
	typ              byte
}

func tgz(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if e.typ == tar.TypeXGlobalHeader {
			h = &tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "commit"}}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestUntar(t *testing.T) {
	good := tgz(t,
		tarEntry{name: "pax_global_header", typ: tar.TypeXGlobalHeader},
		tarEntry{name: "pai-1.8.0/", typ: tar.TypeDir},
		tarEntry{name: "pai-1.8.0/contrib/kubespray/quick-start-kubespray.sh", body: "#!/bin/bash\n", typ: tar.TypeReg},
		tarEntry{name: "pai-1.8.0/docs/link", link: "../contrib", typ: tar.TypeSymlink},
	)
	dir := t.TempDir()
	if err := untar(bytes.NewReader(good), dir, 1); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "contrib/kubespray/quick-start-kubespray.sh")); err != nil || string(data) != "#!/bin/bash\n" {
		t.Errorf("extracted file: %q %v", data, err)
	}
	for _, tc := range []struct {
		name  string
		entry tarEntry
		want  string
	}{
		{"climbs out", tarEntry{name: "pai-1.8.0/../../etc/x", body: "x", typ: tar.TypeReg}, "outside the archive"},
		{"absolute", tarEntry{name: "/etc/x", body: "x", typ: tar.TypeReg}, "outside the archive"},
		{"link out", tarEntry{name: "pai-1.8.0/l", link: "../../../etc/passwd", typ: tar.TypeSymlink}, "points outside"},
		{"absolute link", tarEntry{name: "pai-1.8.0/l", link: "/etc/passwd", typ: tar.TypeSymlink}, "points outside"},
		{"device", tarEntry{name: "pai-1.8.0/dev", typ: tar.TypeChar}, "not unpacked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			err := untar(bytes.NewReader(tgz(t, tc.entry)), dir, 1)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestEnsurePaiTree unpacks the mirror's pai source once, and again after a
// half-finished unpack.
func TestEnsurePaiTree(t *testing.T) {
	archive := tgz(t, tarEntry{name: "pai-1.8.0/contrib/kubespray/config/config.yaml", body: "user: x\n", typ: tar.TypeReg})
	gets := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != paiSourcePath {
			http.NotFound(w, r)
			return
		}
		gets++
		w.Write(archive)
	}))
	defer srv.Close()
	dir := t.TempDir()
	in, err := newInstall(Options{Mirror: strings.TrimPrefix(srv.URL, "http://"), StateDir: dir, ConfigPath: "c", LayoutPath: "l"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !in.bundledPai || in.opts.PaiDir != filepath.Join(dir, "pai") {
		t.Fatalf("pai dir %q", in.opts.PaiDir)
	}
	for range 2 {
		if err := in.ensurePaiTree(context.Background(), in.opts.PaiDir); err != nil {
			t.Fatal(err)
		}
	}
	if gets != 1 {
		t.Errorf("downloaded %d times, want once", gets)
	}
	if _, err := os.Stat(filepath.Join(in.opts.PaiDir, "contrib/kubespray/config/config.yaml")); err != nil {
		t.Error(err)
	}
	// A mirror without the source says what to do.
	os.RemoveAll(in.opts.PaiDir)
	archive = nil
	srv.Config.Handler = http.NotFoundHandler()
	if err := in.ensurePaiTree(context.Background(), in.opts.PaiDir); err == nil || !strings.Contains(err.Error(), "devbox-sources") {
		t.Errorf("missing source: %v", err)
	}
}

// TestUntarChainedLinks: each link alone points inside the archive, but
// the second resolves through the first to the directory above it; a file
// written through it must not land outside.
func TestUntarChainedLinks(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "tree")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := tgz(t,
		tarEntry{name: "pai-1.8.0/l", link: ".", typ: tar.TypeSymlink},
		tarEntry{name: "pai-1.8.0/m", link: "l/..", typ: tar.TypeSymlink},
		tarEntry{name: "pai-1.8.0/m/escaped", body: "x", typ: tar.TypeReg},
		tarEntry{name: "pai-1.8.0/m/sub/", typ: tar.TypeDir},
	)
	err := untar(bytes.NewReader(archive), dir, 1)
	if err == nil {
		t.Error("an archive writing through a chain of links unpacked without error")
	}
	for _, p := range []string{"escaped", "sub"} {
		if _, err := os.Lstat(filepath.Join(parent, p)); err == nil {
			t.Errorf("the archive wrote %s outside its directory", p)
		}
	}
}

// TestNewInstallChecksMirror: the mirror address names the state
// directory and goes into every step, so it is checked as a host once, at
// the start, whichever steps run.
func TestNewInstallChecksMirror(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	for _, m := range []string{"../../x:5000", "a/b:5000", "a$(id)b:5000", "[fd00::9]x:5000", "mirror.lab:99999"} {
		if _, err := newInstall(Options{Mirror: m, ConfigPath: "c", LayoutPath: "l", Only: []string{StepPrepare}}, false); err == nil {
			t.Errorf("--mirror %q was accepted", m)
		}
	}
	for _, m := range []string{"127.0.0.1:8080", "mirror.lab:8080", "http://mirror.lab:8080/", "https://[fd00::9]:8443"} {
		if _, err := newInstall(Options{Mirror: m, ConfigPath: "c", LayoutPath: "l"}, false); err != nil {
			t.Errorf("--mirror %q: %v", m, err)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
)

// TestBuildMirrorFlags checks how build takes --mirror, --mirrors-file and
// --preset: each case fails before anything is fetched.
func TestBuildMirrorFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := write("small.yaml", bundletest.SmallManifest)
	list := write("list.txt", "# for every manifest\nghcr.io=ghcr.m.daocloud.io\nhttp://archive.ubuntu.com/ubuntu=https://mirrors.tuna.tsinghua.edu.cn/ubuntu\n")
	bad := write("bad.txt", "docker.io=docker.m.daocloud.io\nnonsense\n")
	badPassword := write("password.txt", "https://github.com=https://me:MIRRORPASSWORD@files.lan/gh?token=MIRRORTOKEN\n")
	out := filepath.Join(dir, "x.tar")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string // substrings
		not    []string // substrings stderr must not hold
	}{{
		name:   "a typo in --mirror",
		args:   []string{"--mirror", "gcr.io/google-containerz=registry.k8s.io", "--mirror", "quay.io=quay.m.daocloud.io"},
		code:   exitUsage,
		stderr: []string{"paimirror: mirror gcr.io/google-containerz (the images under gcr.io are in google-containers/…) matches nothing manifest small holds: its images come from docker.io, gcr.io, quay.io, its URLs are under https://dl.k8s.io, https://raw.githubusercontent.com, https://storage.googleapis.com", "run 'paimirror build --help'"},
		not:    []string{"quay.io=", "quay.m.daocloud.io"},
	}, {
		name:   "a --mirror for a group left out",
		args:   []string{"--exclude", "base", "--mirror", "quay.io=quay.m.daocloud.io"},
		code:   exitUsage,
		stderr: []string{"mirror quay.io matches nothing manifest small holds: it has no images, its URLs are under https://dl.k8s.io"},
	}, {
		name:   "list entries and presets may match nothing",
		args:   []string{"--mirrors-file", list, "--preset", "cn", "--mirror", "ghcr.io=reg.example.cn"},
		code:   exitUsage,
		stderr: []string{"mirror ghcr.io matches nothing manifest small holds"},
		not:    []string{"archive.ubuntu.com", "security.ubuntu.com", "pypi"},
	}, {
		name:   "an unknown preset",
		args:   []string{"--preset", "cn", "--preset", "us"},
		code:   exitUsage,
		stderr: []string{`paimirror: --preset: unknown preset "us" (known: cn)`},
	}, {
		name:   "a bad mirrors file line",
		args:   []string{"--mirrors-file", bad},
		code:   exitUsage,
		stderr: []string{"bad.txt: line 2: mirror \"nonsense\": want FROM=TO"},
	}, {
		name:   "a bad --mirror",
		args:   []string{"--mirror", "gcr.io/Google=registry.k8s.io"},
		code:   exitUsage,
		stderr: []string{`mirror "gcr.io/Google=registry.k8s.io": repository path element "Google" is not valid`},
	}, {
		name:   "a bad --mirror with a password",
		args:   []string{"--mirror", "https://github.com=ftp://me:MIRRORPASSWORD@files.lan/gh"},
		code:   exitUsage,
		stderr: []string{`mirror "https://github.com=ftp://me:xxxxx@files.lan/gh": a URL prefix maps to a URL prefix: "ftp://me:xxxxx@files.lan/gh" is not an http:// or https:// URL`},
		not:    []string{"MIRRORPASSWORD"},
	}, {
		name:   "a bad mirrors file line with a password and a token",
		args:   []string{"--mirrors-file", badPassword},
		code:   exitUsage,
		stderr: []string{`password.txt: line 1: mirror "https://github.com=https://me:xxxxx@files.lan/gh?token=REDACTED"`},
		not:    []string{"MIRRORPASSWORD", "MIRRORTOKEN"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"build", "-q", "-f", small, "-o", out}, tc.args...)
			if code := run(context.Background(), args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			for _, s := range tc.not {
				if strings.Contains(stderr.String(), s) {
					t.Errorf("stderr holds %q:\n%s", s, stderr.String())
				}
			}
			if _, err := os.Stat(out + ".partial"); err == nil {
				t.Error("a partial bundle was started")
			}
		})
	}
}

func TestBuildHelpPreset(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"build", "--help"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, s := range []string{"--preset", "paimirror build --preset cn", "gcr.io/google-containers=registry.k8s.io"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("build --help lacks %q", s)
		}
	}
}

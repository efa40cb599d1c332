package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile creates dir/name with mode and returns its path.
func writeFile(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLookup(t *testing.T) {
	cache := t.TempDir()
	onPath := t.TempDir()
	other := t.TempDir()
	t.Setenv("PAIMIRROR_CACHE", cache)
	t.Setenv("PATH", onPath)
	t.Setenv("PAIMIRROR_TESTENV_PROG", "")

	envProg := writeFile(t, other, "from-env", 0o755)
	notExec := writeFile(t, other, "not-exec", 0o644)
	cached := writeFile(t, cache, "bin/cached-prog", 0o755)
	candidate := writeFile(t, other, "candidate", 0o755)
	pathProg := writeFile(t, onPath, "path-prog", 0o755)
	writeFile(t, onPath, "cached-prog", 0o755)

	tests := []struct {
		name    string
		env     string // PAIMIRROR_TESTENV_PROG
		p       Program
		want    string
		wantErr []string // substrings of the error
	}{
		{name: "env first", env: envProg,
			p:    Program{What: "x", Env: "PAIMIRROR_TESTENV_PROG", Cached: "cached-prog", Name: "path-prog"},
			want: envProg},
		{name: "env must be executable", env: notExec,
			p:       Program{What: "x", Env: "PAIMIRROR_TESTENV_PROG", Name: "path-prog"},
			wantErr: []string{"PAIMIRROR_TESTENV_PROG=" + notExec + ": not an executable file"}},
		{name: "cache before PATH",
			p:    Program{What: "x", Env: "PAIMIRROR_TESTENV_PROG", Cached: "cached-prog", Name: "cached-prog"},
			want: cached},
		{name: "candidates before PATH",
			p:    Program{What: "x", Candidates: []string{notExec, candidate}, Name: "path-prog"},
			want: candidate},
		{name: "PATH last",
			p:    Program{What: "x", Env: "PAIMIRROR_TESTENV_PROG", Cached: "absent", Candidates: []string{notExec}, Name: "path-prog"},
			want: pathProg},
		{name: "missing says where it looked",
			p:       Program{What: "the thing v1", Env: "PAIMIRROR_TESTENV_PROG", Cached: "absent", Candidates: []string{notExec}, Name: "absent", Provider: "make bench installs it"},
			wantErr: []string{"the thing v1 is not installed (PAIMIRROR_TESTENV_PROG unset, no " + filepath.Join(cache, "bin", "absent") + ", no " + notExec + ", no absent on PATH); make bench installs it"}},
		{name: "default provider",
			p:       Program{What: "skopeo", Name: "skopeo"},
			wantErr: []string{"skopeo is not installed (no skopeo on PATH); .ci/run installs it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PAIMIRROR_TESTENV_PROG", tt.env)
			got, err := tt.p.lookup()
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("lookup = %q, want an error", got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("lookup = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestSkipUnlessRequired checks that a missing program skips the test when
// RequireEnv is unset (TestFailWhereRequired checks the other branch).
func TestSkipUnlessRequired(t *testing.T) {
	t.Setenv(RequireEnv, "")
	t.Setenv("PATH", t.TempDir())
	var sub *testing.T
	t.Run("missing", func(t *testing.T) {
		sub = t
		Tool(t, "paimirror-testenv-absent")
		t.Error("Tool returned for a missing program")
	})
	if !sub.Skipped() {
		t.Error("a missing program did not skip the test")
	}
	var found string
	dir := t.TempDir()
	want := writeFile(t, dir, "present", 0o755)
	t.Setenv("PATH", dir)
	t.Run("present", func(t *testing.T) { found = Tool(t, "present") })
	if found != want {
		t.Errorf("Tool = %q, want %q", found, want)
	}
}

// TestFailWhereRequired runs this test binary again, with RequireEnv set,
// on a test that asks for a missing program: it must fail, saying why.
func TestFailWhereRequired(t *testing.T) {
	if os.Getenv("PAIMIRROR_TESTENV_CHILD") != "" {
		Tool(t, "paimirror-testenv-absent")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFailWhereRequired$", "-test.v")
	cmd.Env = append(os.Environ(), "PAIMIRROR_TESTENV_CHILD=1", RequireEnv+"=1", "PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a missing program with %s set did not fail the test:\n%s", RequireEnv, out)
	}
	want := "paimirror-testenv-absent is not installed (no paimirror-testenv-absent on PATH); .ci/run installs it (" + RequireEnv + " is set, so this fails instead of skipping)"
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "--- FAIL") {
		t.Errorf("output does not fail with %q:\n%s", want, out)
	}
}

// TestPythonModule: a module python has passes; one it lacks skips, as a
// missing program does.
func TestPythonModule(t *testing.T) {
	python := Tool(t, "python3")
	PythonModule(t, python, "json")
	t.Setenv(RequireEnv, "")
	var sub *testing.T
	t.Run("missing", func(t *testing.T) {
		sub = t
		PythonModule(t, python, "paimirror_testenv_absent")
		t.Error("PythonModule returned for a module python lacks")
	})
	if !sub.Skipped() {
		t.Error("a missing module did not skip the test")
	}
}

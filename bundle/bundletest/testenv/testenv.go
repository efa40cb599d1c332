package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing program,
// file or host from a skip into a failure; .ci/run sets it.
const RequireEnv = "PAIMIRROR_REQUIRE_TOOLS"

// Need skips the test with the reason given, or fails it where RequireEnv
// is set: for anything .ci/run provides (a program, a file a package
// installs, a host the machine reaches).
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf(format+" ("+RequireEnv+" is set, so this fails instead of skipping)", args...)
	}
	t.Skipf(format, args...)
}

// PythonModule returns when python (a path, see Tool) imports module, and
// otherwise skips or fails the test as Need does, naming the Debian
// package that provides it.
func PythonModule(t testing.TB, python, module string) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import "+module).CombinedOutput(); err != nil {
		Need(t, "%s cannot import %s (%v: %s); install python3-%s", python, module, err, strings.TrimSpace(string(out)), module)
	}
}

// Reach returns when hostport accepts a TCP connection within 10 seconds,
// and otherwise skips or fails the test as Need does.
func Reach(t testing.TB, hostport string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", hostport, 10*time.Second)
	if err != nil {
		Need(t, "%s cannot be reached: %v", hostport, err)
		return
	}
	c.Close()
}

// CacheDir is the directory the .ci scripts build programs (under bin/)
// and keep fixtures in: $PAIMIRROR_CACHE, else the user cache dir's
// paimirror/ (the temp dir's, where there is no user cache dir).
func CacheDir() string {
	if d := os.Getenv("PAIMIRROR_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "paimirror")
}

// Program says what a test runs and where Find looks for it. Every field
// but What is optional; the zero value of each skips that place.
type Program struct {
	// What describes the program in messages ("distribution's registry
	// v3.1.2").
	What string
	// Env is the environment variable that names the program's path.
	Env string
	// Cached is the program's file name under CacheDir()/bin.
	Cached string
	// Candidates are further paths to try, in order.
	Candidates []string
	// Name is the name looked up on PATH.
	Name string
	// Provider ends the message of a missing program, saying what
	// provides it; default ".ci/run installs it".
	Provider string
}

// Tool returns the path of name on PATH, a real program a test runs
// against (skopeo, crane, ctr, sshd, ...); when it is not there the test
// is skipped, or fails where RequireEnv is set.
func Tool(t testing.TB, name string) string {
	t.Helper()
	return Find(t, Program{What: name, Name: name})
}

// Find returns the path of the program p describes: $Env, else
// CacheDir()/bin/Cached, else the first of Candidates that is an
// executable file, else Name on PATH. A path named by Env that is not an
// executable file fails the test; a program found nowhere skips it, or
// fails it where RequireEnv is set, with a message saying where it was
// looked for and what provides it.
func Find(t testing.TB, p Program) string {
	t.Helper()
	path, err := p.lookup()
	if err == nil {
		return path
	}
	if p.Env != "" && os.Getenv(p.Env) != "" {
		t.Fatal(err)
	}
	Need(t, "%v", err)
	return ""
}

// lookup is Find without the test: the path, or an error saying where the
// program was looked for.
func (p Program) lookup() (string, error) {
	var tried []string
	if p.Env != "" {
		if v := os.Getenv(p.Env); v != "" {
			if !executable(v) {
				return "", fmt.Errorf("%s=%s: not an executable file", p.Env, v)
			}
			return v, nil
		}
		tried = append(tried, p.Env+" unset")
	}
	var paths []string
	if p.Cached != "" {
		paths = append(paths, filepath.Join(CacheDir(), "bin", p.Cached))
	}
	paths = append(paths, p.Candidates...)
	for _, c := range paths {
		if executable(c) {
			return c, nil
		}
		tried = append(tried, "no "+c)
	}
	if p.Name != "" {
		if path, err := exec.LookPath(p.Name); err == nil {
			return path, nil
		}
		tried = append(tried, "no "+p.Name+" on PATH")
	}
	provider := p.Provider
	if provider == "" {
		provider = ".ci/run installs it"
	}
	return "", fmt.Errorf("%s is not installed (%s); %s", p.What, strings.Join(tried, ", "), provider)
}

func executable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

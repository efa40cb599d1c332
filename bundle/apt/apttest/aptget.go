package apttest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// AptGet runs the real apt-get against repositories with a configuration
// of its own: state, cache, sources, keys and apt.conf all live under
// Dir, and the host's /etc/apt and dpkg status are never read or
// written (APT_CONFIG points at Dir/etc/apt.conf, which moves every
// directory apt uses). Nothing is installed: it is for "update",
// "install --download-only", "download" and queries.
type AptGet struct {
	// Path is the apt-get program; default "apt-get" from PATH.
	Path string
	// Dir holds everything apt-get reads and writes; required. NewAptGet
	// prepares it.
	Dir string
	// Architecture is APT::Architecture; default "amd64".
	Architecture string

	sources int
}

// NewAptGet prepares dir for an AptGet: an empty dpkg status, no
// sources, no keys.
func NewAptGet(path, dir, arch string) (*AptGet, error) {
	a := &AptGet{Path: path, Dir: dir, Architecture: arch}
	if a.Path == "" {
		a.Path = "apt-get"
	}
	if a.Architecture == "" {
		a.Architecture = "amd64"
	}
	for _, d := range []string{"state/lists/partial", "cache/archives/partial", "etc/apt.conf.d",
		"etc/sources.list.d", "etc/trusted.gpg.d", "etc/preferences.d", "keys", "log", "out"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	conf := strings.NewReplacer("ROOT", dir, "ARCH", a.Architecture).Replace(`Dir::State "ROOT/state/";
Dir::State::status "ROOT/state/status";
Dir::Cache "ROOT/cache/";
Dir::Etc "ROOT/etc/";
Dir::Etc::main "apt.conf";
Dir::Etc::parts "apt.conf.d";
Dir::Etc::sourcelist "sources.list";
Dir::Etc::sourceparts "sources.list.d";
Dir::Etc::trusted "trusted.gpg";
Dir::Etc::trustedparts "trusted.gpg.d";
Dir::Etc::preferences "preferences";
Dir::Etc::preferencesparts "preferences.d";
Dir::Log "ROOT/log/";
Debug::NoLocking "true";
APT::Architecture "ARCH";
APT::Architectures { "ARCH"; };
APT::Install-Recommends "false";
APT::Get::AllowUnauthenticated "false";
Acquire::AllowInsecureRepositories "false";
Acquire::http::Proxy "DIRECT";
Acquire::Retries "0";
`)
	if os.Geteuid() == 0 {
		conf += "APT::Sandbox::User \"root\";\n"
	}
	for name, data := range map[string]string{"etc/apt.conf": conf, "etc/sources.list": "", "state/status": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// AddSource adds "deb [signed-by=KEY] url suite components..." with key,
// an armored or binary OpenPGP public key (or keyring), stored beside it.
func (a *AptGet) AddSource(url, suite string, components []string, key []byte) error {
	a.sources++
	ext := ".gpg"
	if bytes.HasPrefix(bytes.TrimSpace(key), []byte("-----BEGIN PGP")) {
		ext = ".asc" // apt reads armored keys from .asc files only
	}
	keyFile := filepath.Join(a.Dir, "keys", fmt.Sprintf("source%d%s", a.sources, ext))
	if strings.ContainsAny(keyFile, ", \t]") {
		return fmt.Errorf("apt-get cannot take the key file %q in a sources line: it holds a comma, a blank or ']'", keyFile)
	}
	if err := os.WriteFile(keyFile, key, 0o644); err != nil {
		return err
	}
	line := fmt.Sprintf("deb [signed-by=%s] %s %s %s\n", keyFile, url, suite, strings.Join(components, " "))
	f, err := os.OpenFile(filepath.Join(a.Dir, "etc/sources.list"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Run runs apt-get with args in Dir/out (where "download" puts files)
// and returns its combined output; a non-zero exit is an error holding
// the output.
func (a *AptGet) Run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, a.Path, args...)
	cmd.Dir = filepath.Join(a.Dir, "out")
	env := []string{"APT_CONFIG=" + filepath.Join(a.Dir, "etc/apt.conf"), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive"}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(name) {
		case "apt_config", "lc_all", "http_proxy", "https_proxy", "no_proxy", "all_proxy":
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Downloaded returns the names of the .deb files in apt's archive cache
// (what "install --download-only" fetched), sorted. apt names them
// "{name}_{version with ':' as %3a}_{arch}.deb".
func (a *AptGet) Downloaded() ([]string, error) {
	got, err := filepath.Glob(filepath.Join(a.Dir, "cache/archives/*.deb"))
	if err != nil {
		return nil, err
	}
	for i := range got {
		got[i] = filepath.Base(got[i])
	}
	slices.Sort(got)
	return got, nil
}

// Complaints returns the lines of apt-get output that report a problem:
// warnings ("W:"), errors ("E:", "Err:"), notes ("N:") and files it gave
// up on ("Ign:").
func Complaints(output string) []string {
	var out []string
	for l := range strings.SplitSeq(output, "\n") {
		for _, p := range []string{"W:", "E:", "Err:", "N:", "Ign:"} {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// RunClean runs apt-get with args like Run, and fails as well when its
// output holds a complaint (see Complaints).
func (a *AptGet) RunClean(ctx context.Context, args ...string) (string, error) {
	out, err := a.Run(ctx, args...)
	if err != nil {
		return out, err
	}
	if c := Complaints(out); len(c) > 0 {
		return out, fmt.Errorf("apt-get %s complains: %q\n%s", strings.Join(args, " "), c, out)
	}
	return out, nil
}

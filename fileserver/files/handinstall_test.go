package files_test

import (
	"html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/fileserver/files"
)

// sourcesLines returns the apt sources lines of the bundle's repositories
// at the mirror base ("http://HOST:PORT"): those the install adds to the
// nodes' sources, and the others.
func sourcesLines(l *bundle.Lock, base string) (added, others []string) {
	for _, r := range l.AptRepositories() {
		for _, suite := range r.Suites {
			line := "deb [arch=" + strings.Join(r.Architectures, ",") + "] " + base + r.Prefix + " " + suite + " " + strings.Join(r.Components, " ")
			if r.Sources {
				added = append(added, line)
			} else {
				others = append(others, line)
			}
		}
	}
	return added, others
}

// dockerApt returns the mirror paths of Docker's apt repository and its key.
func dockerApt(t *testing.T, l *bundle.Lock) (prefix, keyPath string) {
	t.Helper()
	for _, r := range l.AptRepositories() {
		if strings.TrimRight(r.URL, "/") != "https://download.docker.com/linux/ubuntu" {
			continue
		}
		for _, k := range l.Apt.Keys {
			if k.URL == r.KeyURL {
				return r.Prefix, k.Path
			}
		}
	}
	t.Fatal("the default bundle has no Docker apt repository with a key")
	return "", ""
}

// kubesprayPath returns the mirror path of the kubespray archive.
func kubesprayPath(t *testing.T, l *bundle.Lock) string {
	t.Helper()
	for _, f := range l.Files {
		if strings.Contains(f.URL, "/kubernetes-sigs/kubespray/archive/") && len(f.Paths) > 0 {
			return f.Paths[0]
		}
	}
	t.Fatal("the default bundle has no kubespray archive")
	return ""
}

// TestConfigTextHandInstall checks that /config.txt holds everything a
// hand install sets: the apt sources lines of the nodes (one per line, only
// the repositories the install adds), the apt settings the mirror needs,
// Docker's apt repository variables in the config.yaml block, and the
// environment.sh changes (kubespray's archive, pip's index).
func TestConfigTextHandInstall(t *testing.T) {
	tb := defaultBundle(t)
	const adv = "127.0.0.7:5000"
	base := "http://" + adv
	_, addr := start(t, files.Options{Advertise: adv})
	r := curl(t, url(addr, "/config.txt"))
	if r.code != 200 {
		t.Fatalf("/config.txt: HTTP %d", r.code)
	}
	text := string(r.body)
	lines := strings.Split(text, "\n")
	has := func(line string) bool { return slices.Contains(lines, line) }

	added, others := sourcesLines(tb.b.Lock, base)
	if len(added) == 0 || len(others) == 0 {
		t.Fatalf("the default bundle should have apt repositories both added to the sources and not: %q, %q", added, others)
	}
	for _, l := range added {
		if !has(l) {
			t.Errorf("/config.txt lacks the sources line %q", l)
		}
	}
	for _, l := range others {
		if has(l) {
			t.Errorf("/config.txt adds %q to the sources; kubespray adds that repository itself", l)
		}
	}
	for _, want := range []string{
		"# ==> /etc/apt/sources.list.d/paimirror.list (ubuntu-18.04)",
		"# ==> /etc/apt/apt.conf.d/99paimirror",
		`Acquire::Languages "none";`,
		`Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";`,
		`Acquire::http::Proxy::127.0.0.7 "DIRECT";`,
	} {
		if !has(want) {
			t.Errorf("/config.txt lacks the line %q", want)
		}
	}

	prefix, key := dockerApt(t, tb.b.Lock)
	yr := curl(t, url(addr, "/config.yaml"))
	yamlLines := strings.Split(string(yr.body), "\n")
	for _, want := range []string{
		`  docker_ubuntu_repo_base_url: "` + base + prefix + `"`,
		`  docker_ubuntu_repo_gpgkey: "` + base + key + `"`,
	} {
		if !has(want) {
			t.Errorf("/config.txt's config.yaml block lacks %q", want)
		}
		if !slices.Contains(yamlLines, want) {
			t.Errorf("/config.yaml lacks %q", want)
		}
	}

	for _, want := range []string{
		"# ==> contrib/kubespray/script/environment.sh",
		`mkdir -p "${HOME}/pai-deploy/kubespray" && (set -o pipefail; curl -fsSL '` + base + kubesprayPath(t, tb.b.Lock) +
			`' | tar -xz --strip-components=1 -C "${HOME}/pai-deploy/kubespray") || exit $?`,
		"--index-url '" + base + "/pypi/simple/' --trusted-host '127.0.0.7'",
	} {
		if !has(want) {
			t.Errorf("/config.txt lacks the line %q:\n%s", want, text)
		}
	}
}

// copiedText renders the page at u in headless Chromium and returns the
// text a reader gets by selecting all of it and copying (the body's
// innerText, which follows the rendered layout: a block starts a line,
// inline elements run together).
func copiedText(t *testing.T, u string) string {
	t.Helper()
	page := curl(t, u)
	if page.code != 200 {
		t.Fatalf("%s: HTTP %d", u, page.code)
	}
	// The page forbids scripts (Content-Security-Policy, a header): a copy
	// on disk, with one script added, can read its text.
	const probe = `<script>var p = document.createElement("pre"); p.id = "copied"; p.textContent = document.body.innerText; document.body.appendChild(p);</script></body>`
	doc := strings.Replace(string(page.body), "</body>", probe, 1)
	file := filepath.Join(t.TempDir(), "index.html")
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := string(chromium(t, "file://"+file, "--dump-dom"))
	m := regexp.MustCompile(`(?s)<pre id="copied">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the script found no text to copy:\n%s", dom)
	}
	return html.UnescapeString(m[1])
}

// TestIndexPageCopiesAptLines copies the index page's text as a browser
// does and checks that every apt sources line is a line of its own, in the
// table of repositories and in the apt section of the config to paste.
func TestIndexPageCopiesAptLines(t *testing.T) {
	tb := defaultBundle(t)
	_, addr := start(t, files.Options{Advertise: "127.0.0.7:5000"})
	text := copiedText(t, url(addr, "/"))
	count := map[string]int{}
	for _, l := range strings.Split(text, "\n") {
		count[strings.TrimSpace(l)]++
	}
	added, others := sourcesLines(tb.b.Lock, "http://127.0.0.7:5000")
	for _, l := range added {
		// Once in the table, once in the sources list to paste.
		if count[l] != 2 {
			t.Errorf("the copied page has %d lines %q, want 2 (the table and the apt section)", count[l], l)
		}
	}
	for _, l := range others {
		if count[l] != 1 {
			t.Errorf("the copied page has %d lines %q, want 1 (the table)", count[l], l)
		}
	}
	if strings.Contains(text, "universedeb") || strings.Contains(text, "stabledeb") {
		t.Error("two sources lines run together in the copied page")
	}
	if t.Failed() {
		t.Logf("copied text:\n%s", text)
	}
}

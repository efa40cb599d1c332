package patch

import (
	"bytes"
	"cmp"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/yamltext"
	"go.yaml.in/yaml/v3"
)

// Finding is an internet host that a file the install runs still names.
type Finding struct {
	// Path is the file, slash-separated, relative to the pai checkout.
	Path string
	// Line is the 1-based line where Path first names Host.
	Line int
	// Host is the internet host, e.g. "github.com"; for apt and pip, the
	// default source ("archive.ubuntu.com", "pypi.org"). With
	// ScanOptions.Registry, an image reference that does not name the
	// registry is a finding whatever its host: "docker.io" for Docker
	// Hub, else the host it names (the mirror or a LAN registry
	// included).
	Host string
	// What says what the access is and what it means for an offline
	// install.
	What string
	// OffPath says why a default install does not run the access ("run
	// only by hand", "dshuttle is off by default", ...); "" when it does.
	OffPath string
}

// String formats the finding as "PATH:LINE: HOST: WHAT".
func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", f.Path, f.Line, f.Host, f.What)
}

// ScanOptions configures Scan. The zero value works.
type ScanOptions struct {
	// Mirror is HOST:PORT of the mirror; URLs to its host are not
	// findings. Default: none.
	Mirror string
	// AptPackages are the names of the packages the mirror's apt
	// repositories carry, when the machines' apt uses the mirror (the
	// prepare step): apt updates, and apt installs naming only these
	// packages (a version pin "name=1.0" counts as its name), are then
	// not findings. An install naming another package, a templated name
	// or a .deb URL still is. Default nil: apt is not mirrored, every apt
	// access is a finding.
	AptPackages []string
	// DevBoxDocker reports that the dev box's docker has the mirror in its
	// registry-mirrors (the prepare step): its pulls of Docker Hub images
	// are then not findings. Default false.
	DevBoxDocker bool
	// Targets are the releases the install's machines run, as
	// "ubuntu-VERSION" (their {ID}-{VERSION_ID}, like the manifest's apt
	// targets): an Ansible task whose `when:` (or that of a block or play
	// around it) is false on every one of them is off the default path.
	// Conditions on ansible_distribution, ansible_distribution_version,
	// ansible_distribution_release, ansible_distribution_major_version,
	// ansible_os_family and ansible_lsb are judged; a condition on
	// anything else keeps the task on the path. Default: DefaultTargets.
	Targets []string
	// Registry is REGISTRY[/PREFIX] of a lab registry that every image of
	// the install is to come from (install --registry): then every
	// literal image reference (an image: value, the image of docker
	// run/create/pull) that does not start with Registry + "/" is a
	// finding, Docker Hub ones included; a reference whose repository a
	// template or the shell fills in is not judged. Default "": only
	// images from internet registries other than Docker Hub are findings.
	Registry string

	// offLines says, per file and line, why a default install does not
	// run it (set by Plan from layout.yaml).
	offLines map[string]map[int]string
}

// Scan lists the internet hosts still named by the files an OpenPAI
// install runs from the pai checkout at paiDir: contrib/kubespray (the
// quick-start scripts, playbooks, roles, templates and config) and every
// src/*/deploy (the service start scripts and templates). It reads code,
// not comments: URLs, git clone, svn, pip, apt (commands and Ansible's
// apt, apt_key, apt_repository and pip modules), nslookup and ping
// checks (resolving role defaults such as {{openpai_registry}}), and
// image references outside Docker Hub. Local addresses, template
// placeholders, XML namespaces, links printed in messages and the
// mirror are left out. There is one Finding per file and host, at its
// first line, sorted by path and line. Files named *.paimirror-orig are
// skipped.
func Scan(paiDir string, opts ScanOptions) ([]Finding, error) {
	if err := checkPaiDir(paiDir); err != nil {
		return nil, err
	}
	return scanTree(paiDir, nil, opts)
}

// maxScanSize is the largest file Scan reads; the pai tree's text files
// are far smaller.
const maxScanSize = 1 << 20

// scanTree scans paiDir, reading a file's content from overlay (by slash
// path relative to paiDir) when it is there.
func scanTree(paiDir string, overlay map[string][]byte, opts ScanOptions) ([]Finding, error) {
	roots := []string{pai.KubesprayDir}
	deploys, err := filepath.Glob(filepath.Join(paiDir, "src", "*", "deploy"))
	if err != nil {
		return nil, fmt.Errorf("scanning: %w", err)
	}
	for _, d := range deploys {
		if rel, ok := relPath(paiDir, d); ok {
			roots = append(roots, rel)
		}
	}
	targets, err := parseTargets(opts.Targets)
	if err != nil {
		return nil, err
	}
	s := &scanner{root: paiDir, overlay: overlay, mirrorHost: hostOf(opts.Mirror), defaults: map[string]map[string]string{}, devBoxDocker: opts.DevBoxDocker, offLines: opts.offLines, targets: targets,
		registry: strings.TrimSuffix(opts.Registry, "/")}
	if len(opts.AptPackages) > 0 {
		s.aptPackages = map[string]bool{}
		for _, p := range opts.AptPackages {
			s.aptPackages[p] = true
		}
	}
	for _, root := range roots {
		err := filepath.WalkDir(filepath.Join(paiDir, filepath.FromSlash(root)), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == ".git" {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || strings.HasSuffix(d.Name(), pai.OrigSuffix) || strings.Contains(d.Name(), ".paimirror-") {
				return nil
			}
			rel, ok := relPath(paiDir, p)
			if !ok {
				return nil
			}
			data, ok := overlay[rel]
			if !ok {
				info, err := d.Info()
				if err != nil || info.Size() > maxScanSize {
					return err
				}
				if data, err = os.ReadFile(p); err != nil {
					return err
				}
			}
			s.file(rel, data)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("scanning: %w", err)
		}
	}
	return s.findings(), nil
}

// hit is one access found on one line.
type hit struct {
	path   string
	line   int
	host   string
	kind   string // see explain
	detail string // packages, the URL, the role variable
	// aptOnly marks an apt module hit that only updates the index or
	// installs the packages in detail (no upgrade).
	aptOnly bool
	// off says why a default install does not run this line (an
	// Ansible when: false on every target), or "".
	off string
}

type scanner struct {
	root       string
	overlay    map[string][]byte
	mirrorHost string
	defaults   map[string]map[string]string // role dir -> defaults/main.yml
	// aptPackages are the packages the mirror carries; nil when apt is
	// not mirrored.
	aptPackages map[string]bool
	// devBoxDocker: the dev box pulls Docker Hub images through the mirror.
	devBoxDocker bool
	// offLines: ScanOptions.offLines.
	offLines map[string]map[int]string
	// targets: ScanOptions.Targets; nil reads as DefaultTargets.
	targets []target
	// registry: ScanOptions.Registry.
	registry string
	hits     []hit
}

// registryMiss returns the hit for an image reference that does not name
// s.registry, when there is one and ref is a literal that does not.
func (s *scanner) registryMiss(rel string, line int, ref string) (hit, bool) {
	repo, _ := manifests.RepoTag(ref)
	if s.registry == "" || strings.HasPrefix(ref, s.registry+"/") || repo == "" || templated(repo) {
		return hit{}, false
	}
	host := registryHost(ref)
	if host == "" {
		host = "docker.io"
	}
	return hit{path: rel, line: line, host: host, kind: "registry-image", detail: ref}, true
}

// aptCovered reports whether an apt update or install of the packages
// named in detail (none for an update) is served by the mirror.
func (s *scanner) aptCovered(detail string) bool {
	if s.aptPackages == nil {
		return false
	}
	for _, p := range strings.Fields(detail) {
		name, _, _ := strings.Cut(p, "=")
		if strings.ContainsAny(name, "{}$`*?[]()") || !s.aptPackages[name] {
			return false
		}
	}
	return true
}

// judgeWhen marks the hits of one YAML file whose task never runs on the
// targets (see offByWhen).
func (s *scanner) judgeWhen(data []byte, hits []hit) {
	if len(hits) == 0 || !strings.Contains(path.Base(hits[0].path), ".yml") && !strings.Contains(path.Base(hits[0].path), ".yaml") {
		return
	}
	if s.targets == nil {
		s.targets, _ = parseTargets(nil)
	}
	var lines []int
	for _, h := range hits {
		lines = append(lines, h.line)
	}
	off := offByWhen(data, lines, s.targets)
	for i := range hits {
		hits[i].off = off[hits[i].line]
	}
}

// syntax is how a file marks comments.
type syntax int

const (
	hashComments  syntax = iota // shell, YAML, Python, nginx, properties
	htmlComments                // <!-- ... -->
	slashComments               // JavaScript: // and /* */
	noComments                  // JSON
	skipFile                    // documentation
)

func syntaxOf(name string) syntax {
	base := strings.TrimSuffix(name, ".template")
	switch path.Ext(base) {
	case ".ejs", ".html", ".htm", ".xml", ".svg":
		return htmlComments
	case ".js", ".ts", ".go", ".java", ".css":
		return slashComments
	case ".json":
		return noComments
	case ".md", ".rst", ".png", ".jpg", ".gif", ".ico":
		return skipFile
	}
	return hashComments
}

// file scans one file.
func (s *scanner) file(rel string, data []byte) {
	syn := syntaxOf(rel)
	if syn == skipFile || bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
		return
	}
	first := len(s.hits)
	defer func() { s.judgeWhen(data, s.hits[first:]) }()
	lines := yamltext.Lines(data)
	code := stripComments(lines, syn)
	isYAML := strings.Contains(path.Base(rel), ".yml") || strings.Contains(path.Base(rel), ".yaml")
	isPy := strings.HasSuffix(rel, ".py")
	isShell := strings.HasSuffix(rel, ".sh") || strings.HasSuffix(rel, ".sh.template")
	for i := 0; i < len(code); i++ {
		c := code[i]
		if strings.TrimSpace(c) == "" {
			continue
		}
		if isShell {
			// A command continued with "\" is one line, reported at its
			// first.
			for j := i + 1; j < len(code) && strings.HasSuffix(strings.TrimRight(c, " \t"), "\\"); j++ {
				c = strings.TrimSuffix(strings.TrimRight(c, " \t"), "\\") + " " + code[j]
				code[j] = ""
			}
		}
		var hs []hit
		add := func(host, kind, detail string) {
			if h := s.internet(host); h != "" {
				hs = append(hs, hit{path: rel, line: i + 1, host: h, kind: kind, detail: detail})
			}
		}
		for _, m := range svnRe.FindAllStringSubmatch(c, -1) {
			add(urlHost(m[1]), "svn", m[1])
		}
		for _, m := range gitCloneRe.FindAllStringSubmatch(c, -1) {
			add(urlHost(m[1]), "git", m[1])
		}
		if m := pipRe.FindStringSubmatch(c); m != nil && !strings.Contains(m[1], "--no-index") && !indexRe.MatchString(m[1]) {
			add("pypi.org", "pip", pipDetail(m[1]))
		}
		if m := aptRe.FindStringSubmatch(c); m != nil {
			detail := aptDetail(m[1], m[2])
			if !((m[1] == "install" || m[1] == "update") && s.aptCovered(detail)) {
				add("archive.ubuntu.com", "apt", detail)
			}
		}
		if m := addAptRepoRe.FindStringSubmatch(c); m != nil {
			add(repoHost(m[1]), "apt-repo", m[1])
		}
		if m := keyserverRe.FindStringSubmatch(c); m != nil {
			add(urlHost(m[1]), "apt-key", m[1])
		}
		if isYAML {
			if m := moduleRe.FindStringSubmatch(c); m != nil {
				for _, h := range moduleHits(code, i, m) {
					if h.aptOnly && s.aptCovered(h.detail) {
						continue
					}
					add(h.host, h.kind, h.detail)
				}
			}
		}
		for _, m := range checkRe.FindAllStringSubmatch(c, -1) {
			target := strings.Trim(m[2], `"'`)
			kind := map[string]string{"nslookup": "dns-check", "dig": "dns-check", "ping": "ping-check"}[m[1]]
			if v := templateVar(target); v != "" {
				if val := s.roleDefault(rel, v); val != "" {
					add(val, kind, v)
				}
				continue
			}
			add(target, kind, "")
		}
		if m := imageRe.FindStringSubmatch(c); m != nil {
			if s.registry == "" {
				add(registryHost(m[1]), "image", m[1])
			} else if h, ok := s.registryMiss(rel, i+1, m[1]); ok {
				hs = append(hs, h)
			}
		}
		if m := dockerRunRe.FindStringSubmatch(c); m != nil {
			if img := dockerImageArg(m[1]); img != "" {
				if s.registry != "" {
					if h, ok := s.registryMiss(rel, i+1, img); ok {
						hs = append(hs, h)
					}
				} else if h := registryHost(img); h != "" {
					add(h, "image", img)
				} else if whereRuns(rel) == "the dev box" && !s.devBoxDocker {
					add("docker.io", "hub-image", img)
				}
			}
		}
		if m := dockerServerRe.FindStringSubmatch(c); m != nil {
			add(strings.Trim(m[1], `"'`), "registry-login", "")
		}
		if !(isPy && messageRe.MatchString(c)) && !(isYAML && textKeyRe.MatchString(c)) {
			for _, m := range urlRe.FindAllStringSubmatch(c, -1) {
				kind := "url"
				switch {
				case downloadRe.MatchString(c):
					kind = "download"
				case strings.Contains(c, "deb "):
					kind = "apt-repo"
				}
				add(urlHost(m[0]), kind, m[0])
			}
		}
		s.hits = append(s.hits, hs...)
	}
}

var (
	svnRe          = regexp.MustCompile(`\bsvn\s+(?:cat|co|checkout|export|ls|list)\s+["']?((?:https?|svn)://[^\s"'|;&]+)`)
	gitCloneRe     = regexp.MustCompile(`\bgit\s+clone\b[^|;&]*?((?:https?|git|ssh)://[^\s"'|;&]+)`)
	pipRe          = regexp.MustCompile(`\bpip[0-9.]*\s+install\b(.*)`)
	indexRe        = regexp.MustCompile(`(?:^|\s)(?:-i|--index-url)[\s=]`)
	aptRe          = regexp.MustCompile(`\bapt(?:-get)?\s+(?:-\S+\s+)*(install|update|upgrade|dist-upgrade|full-upgrade|build-dep|source|download)\b(.*)`)
	addAptRepoRe   = regexp.MustCompile(`\badd-apt-repository\s+(?:-\S+\s+)*["']?([^\s"']+)`)
	keyserverRe    = regexp.MustCompile(`--keyserver[\s=]+["']?([^\s"']+)`)
	moduleRe       = regexp.MustCompile(`^(\s*(?:-\s+)?)(?:ansible\.builtin\.)?(apt|apt_key|apt_repository|pip|get_url|uri|unarchive|git|package)\s*:\s*(.*)$`)
	checkRe        = regexp.MustCompile(`\b(nslookup|dig|ping)\s+(?:-\S+\s+(?:[0-9]+\s+)?)*("?\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}"?|[A-Za-z0-9][A-Za-z0-9.-]*)`)
	imageRe        = regexp.MustCompile(`^\s*-?\s*image:\s*["']?([^\s"']+)`)
	dockerRunRe    = regexp.MustCompile(`\bdocker\s+(?:run|create|pull)\s(.*)`)
	dockerServer   = `--docker-server`
	dockerServerRe = regexp.MustCompile(dockerServer + `[\s=]+["']?([^\s"']+)`)
	urlRe          = regexp.MustCompile(`\b(?:https?|ftp|hkp)://[^/\s"'<>()\[\]{}|;,\\]+[^\s"'<>|;\\]*`)
	downloadRe     = regexp.MustCompile(`\b(?:curl|wget|get_url|urlopen|requests\.get)\b`)
	messageRe      = regexp.MustCompile(`\b(?:logger|logging)\.\w+\(|\bprint\(|\braise\s+\w+\(`)
	textKeyRe      = regexp.MustCompile(`^\s*-?\s*(?:name|msg|description|help):\s`)
)

// moduleHits reads the Ansible module task at code[i] (its key, with
// inline k=v arguments or more-indented key: value lines under it) and
// returns what it fetches.
func moduleHits(code []string, i int, m []string) []hit {
	module := m[2]
	params := map[string]string{}
	var names []string
	for _, kv := range strings.Fields(m[3]) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			params[k] = strings.Trim(v, `"'`)
		}
	}
	indent := len(m[1])
	inName := false
	for j := i + 1; j < len(code); j++ {
		l := code[j]
		if strings.TrimSpace(l) == "" {
			continue
		}
		if yamltext.Indent(l) <= indent {
			break
		}
		t := strings.TrimSpace(l)
		if inName && strings.HasPrefix(t, "- ") {
			names = append(names, strings.Trim(strings.TrimSpace(t[2:]), `"'`))
			continue
		}
		inName = false
		k, v, ok := strings.Cut(t, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
		params[k] = v
		if (k == "name" || k == "pkg") && v == "" {
			inName = true
		}
	}
	if n := params["name"] + params["pkg"]; n != "" && !strings.HasPrefix(n, "[") {
		names = append(names, n)
	} else if n != "" {
		for _, p := range strings.Split(strings.Trim(n, "[]"), ",") {
			names = append(names, strings.Trim(strings.TrimSpace(p), `"'`))
		}
	}
	absent := params["state"] == "absent"
	yes := func(k string) bool {
		return slices.Contains([]string{"yes", "true", "True", "1", "on"}, params[k])
	}
	detail := strings.Join(names, " ")
	switch module {
	case "apt", "package":
		var hs []hit
		if deb := params["deb"]; strings.Contains(deb, "://") {
			hs = append(hs, hit{host: urlHost(deb), kind: "download", detail: deb})
		}
		upgrade := params["upgrade"] != "" && params["upgrade"] != "no"
		if yes("update_cache") || (len(names) > 0 && !absent) || upgrade {
			hs = append(hs, hit{host: "archive.ubuntu.com", kind: "apt", detail: detail, aptOnly: !upgrade && !absent})
		}
		return hs
	case "apt_key":
		if absent {
			return nil
		}
		if u := params["url"]; u != "" {
			return []hit{{host: urlHost(u), kind: "apt-key", detail: u}}
		}
		if ks := params["keyserver"]; ks != "" {
			return []hit{{host: urlHost(ks), kind: "apt-key", detail: ks}}
		}
	case "apt_repository":
		if absent {
			return nil
		}
		if r := params["repo"]; r != "" {
			return []hit{{host: repoHost(r), kind: "apt-repo", detail: r}}
		}
	case "pip":
		if absent || strings.Contains(params["extra_args"], "--no-index") || indexRe.MatchString(params["extra_args"]) {
			return nil
		}
		return []hit{{host: "pypi.org", kind: "pip", detail: detail}}
	case "get_url", "uri", "unarchive", "git":
		for _, k := range []string{"url", "src", "repo"} {
			if u := params[k]; strings.Contains(u, "://") {
				return []hit{{host: urlHost(u), kind: "download", detail: u}}
			}
		}
	}
	return nil
}

// dockerValueFlags are the docker run/create/pull options that take a
// value as the next argument.
var dockerValueFlags = map[string]bool{
	"-v": true, "--volume": true, "-e": true, "--env": true, "--env-file": true, "-w": true, "--workdir": true,
	"--name": true, "-p": true, "--publish": true, "--network": true, "--net": true, "--pid": true,
	"-u": true, "--user": true, "--entrypoint": true, "-l": true, "--label": true, "--mount": true,
	"--add-host": true, "--cpus": true, "-m": true, "--memory": true, "--restart": true, "--log-opt": true,
	"--log-driver": true, "--device": true, "--cap-add": true, "--cap-drop": true, "-h": true, "--hostname": true,
	"--gpus": true, "--runtime": true, "--platform": true, "--shm-size": true, "--ulimit": true, "--ipc": true,
}

// dockerImageArg returns the image of docker run/create/pull's arguments:
// the first one that is not an option or an option's value.
func dockerImageArg(args string) string {
	f := strings.Fields(args)
	for i := 0; i < len(f); i++ {
		a := strings.Trim(f[i], `"'`)
		switch {
		case dockerValueFlags[a]:
			i++
		case strings.HasPrefix(a, "-"):
		case strings.ContainsAny(a[:min(1, len(a))], "$/") || !strings.Contains(a, "/") && !strings.Contains(a, ":"):
			return ""
		default:
			return a
		}
	}
	return ""
}

// stripComments returns the lines without line endings and without
// comments; a comment-only line becomes empty.
func stripComments(lines []string, syn syntax) []string {
	out := make([]string, len(lines))
	inBlock := false
	for i, l := range lines {
		body, _ := yamltext.CutEOL(l)
		switch syn {
		case hashComments:
			out[i] = cutHashComment(body)
		case htmlComments:
			out[i], inBlock = cutBlockComment(body, "<!--", "-->", inBlock)
		case slashComments:
			var c string
			c, inBlock = cutBlockComment(body, "/*", "*/", inBlock)
			if j := strings.Index(c, "//"); j >= 0 && (j == 0 || c[j-1] != ':') {
				c = c[:j]
			}
			out[i] = c
		default:
			out[i] = body
		}
	}
	return out
}

// cutHashComment removes a '#' comment: one that starts the line or
// follows a blank, outside quotes. Jinja's {# #} and ${#x} are not
// comments.
func cutHashComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i]
		}
	}
	return line
}

// cutBlockComment removes open...close comments, which may span lines.
func cutBlockComment(line, open, close string, in bool) (string, bool) {
	var b strings.Builder
	for line != "" {
		if in {
			j := strings.Index(line, close)
			if j < 0 {
				return b.String(), true
			}
			line, in = line[j+len(close):], false
			continue
		}
		j := strings.Index(line, open)
		if j < 0 {
			b.WriteString(line)
			break
		}
		b.WriteString(line[:j])
		line, in = line[j+len(open):], true
	}
	return b.String(), in
}

// templateVar returns NAME for "{{ NAME }}" (optionally quoted), else "".
func templateVar(s string) string {
	s = strings.Trim(s, `"'`)
	if v, ok := strings.CutPrefix(s, "{{"); ok {
		if v, ok = strings.CutSuffix(v, "}}"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// roleDefault looks name up in the defaults/main.yml of the Ansible role
// holding rel (roles/<role>/tasks/...), as the role's tasks see it.
func (s *scanner) roleDefault(rel, name string) string {
	dir, _, ok := strings.Cut(rel, "/tasks/")
	if !ok {
		return ""
	}
	vars, ok := s.defaults[dir]
	if !ok {
		vars = map[string]string{}
		p := dir + "/defaults/main.yml"
		data, ok := s.overlay[p]
		if !ok {
			data, _ = os.ReadFile(filepath.Join(s.root, filepath.FromSlash(p)))
		}
		var m map[string]any
		if yaml.Unmarshal(data, &m) == nil {
			for k, v := range m {
				if str, ok := v.(string); ok {
					vars[k] = str
				}
			}
		}
		s.defaults[dir] = vars
	}
	return vars[name]
}

// urlHost returns the host of a URL-ish string ("https://h:1/x", "hkp://h",
// "h/x").
func urlHost(u string) string {
	if _, rest, ok := strings.Cut(u, "://"); ok {
		u = rest
	}
	u, _, _ = strings.Cut(u, "/")
	if _, h, ok := strings.Cut(u, "@"); ok {
		u = h
	}
	return hostOf(u)
}

// hostOf strips a port from host[:port] and lowercases it.
func hostOf(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		hostport = h
	}
	return strings.ToLower(strings.TrimSuffix(hostport, "."))
}

// repoHost returns the host of an apt repository line or PPA.
func repoHost(repo string) string {
	if strings.HasPrefix(repo, "ppa:") {
		return "ppa.launchpad.net"
	}
	if m := urlRe.FindString(repo); m != "" {
		return urlHost(m)
	}
	return ""
}

// registryHost returns the registry host of an image reference when it
// names one other than Docker Hub, else "".
func registryHost(ref string) string {
	first, _, ok := strings.Cut(ref, "/")
	if !ok || !(strings.ContainsAny(first, ".:") || first == "localhost") {
		return ""
	}
	switch h := hostOf(first); h {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return ""
	default:
		return h
	}
}

// notAccessed are hosts named as identifiers (XML namespaces, document
// types, schema.org item types), never fetched.
var notAccessed = map[string]bool{"www.w3.org": true, "w3.org": true, "schema.org": true}

// hostLabel is one DNS label.
var hostLabel = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)

// internet returns h when it is an internet host: a public IP address or a
// DNS name with a top-level domain, not a template placeholder, a cluster
// or LAN name, a reserved example domain, an identifier, or the mirror.
func (s *scanner) internet(h string) string {
	h = hostOf(h)
	if h == "" || h == s.mirrorHost || notAccessed[h] {
		return ""
	}
	if ip := net.ParseIP(h); ip != nil {
		if ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() {
			return ""
		}
		return h
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return ""
	}
	for _, l := range labels {
		if !hostLabel.MatchString(l) {
			return ""
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 || strings.Trim(tld, "abcdefghijklmnopqrstuvwxyz") != "" {
		return ""
	}
	for _, local := range []string{"local", "localhost", "internal", "lan", "svc", "example", "test", "invalid"} {
		if tld == local {
			return ""
		}
	}
	for _, ex := range []string{"example.com", "example.org", "example.net"} {
		if h == ex || strings.HasSuffix(h, "."+ex) {
			return ""
		}
	}
	return h
}

// pipDetail summarizes pip install's arguments: the packages, and
// requirement files as "-r FILE".
func pipDetail(args string) string {
	var out []string
	f := strings.Fields(args)
	for i := 0; i < len(f); i++ {
		a := f[i]
		switch {
		case a == "-r" || a == "--requirement":
			if i+1 < len(f) {
				out = append(out, "-r "+f[i+1])
				i++
			}
		case strings.HasPrefix(a, "-"), strings.ContainsAny(a, "$`{}#"):
		default:
			out = append(out, a)
		}
	}
	return strings.Join(out, " ")
}

// aptDetail summarizes apt's arguments: the packages of install.
func aptDetail(verb, args string) string {
	if verb != "install" {
		return ""
	}
	var out []string
	for _, a := range strings.Fields(args) {
		if strings.HasPrefix(a, "-") || strings.ContainsAny(a, "$`{}|&;><") {
			if strings.ContainsAny(a, "|&;") {
				break
			}
			continue
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// findings turns the hits into one Finding per (path, host) at its first
// line, sorted by path and line.
func (s *scanner) findings() []Finding {
	type key struct{ path, host, off string }
	first := map[key]hit{}
	details := map[key][]string{}
	var order []key
	for _, h := range s.hits {
		off := cmp.Or(offPath(h), s.offLines[h.path][h.line], h.off)
		k := key{h.path, h.host, off}
		f, ok := first[k]
		if !ok {
			first[k] = h
			order = append(order, k)
			f = h
		}
		if h.kind == f.kind && h.detail != "" && !slices.Contains(details[k], h.detail) {
			details[k] = append(details[k], h.detail)
		}
	}
	out := make([]Finding, 0, len(order))
	for _, k := range order {
		h := first[k]
		what := explain(h, details[k])
		if k.off != offPath(h) {
			what += "; " + k.off
		}
		out = append(out, Finding{Path: h.path, Line: h.line, Host: h.host, What: what, OffPath: k.off})
	}
	slices.SortFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Host, b.Host))
	})
	return out
}

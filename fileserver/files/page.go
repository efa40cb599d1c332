package files

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/apt"
)

type imageRow struct {
	Ref, Short, Size, Platform string
	Digest                     digest.Digest
	Names                      []string
}

type fileRow struct {
	Name, SHA256, Short, Size, Source string
	Unpinned                          bool
	Paths                             []string
}

type pythonRow struct {
	Project, Version, Filename, SHA256, Short, Size, Path string
}

// pythonRows prepares the bundle's python files for the index page, once,
// and counts their projects.
func pythonRows(b *bundle.Bundle) ([]pythonRow, int) {
	var out []pythonRow
	projects := map[string]bool{}
	for _, f := range b.Lock.PythonFiles() {
		projects[f.Project] = true
		out = append(out, pythonRow{Project: f.Project, Version: f.Version, Filename: f.Filename, SHA256: f.SHA256,
			Short: shortHex(f.SHA256), Size: bundle.HumanSize(f.Size), Path: PathPyPI + "/simple/" + f.Project + "/"})
	}
	return out, len(projects)
}

type aptRow struct {
	Name, Target, Size, KeyPath string
	// URL is the repository's upstream root, Prefix its mirror path.
	URL, Prefix string
	Debs        int
	Sources     bool
	// Lines are its apt sources lines, one per suite (aptLine.Text).
	Lines []aptLine
}

// aptLine is an apt sources line without the mirror's address.
type aptLine struct {
	// Repository is the repository's name, for the comment that stands
	// in for a line that cannot be written.
	Repository string
	// Options are the line's options: arch= with the architectures, or
	// none.
	Options []apt.SourceOption
	// Prefix is the repository's mirror path.
	Prefix string
	// Suite and Components are "bionic" and "main universe", or
	// apt.FlatSuite and none for a flat repository.
	Suite      string
	Components []string
}

// Text returns the sources line for the mirror at base
// ("http://HOST:PORT"): "deb [arch=amd64] BASE/PREFIX SUITE COMPONENTS",
// as apt.SourcesLine writes it. Where that refuses (a word of the
// bundle's apt record, or base, holds whitespace or what else would
// change the line), it returns a comment saying so instead, so that the
// page and the config to paste never carry a line the bundle's record
// smuggled in.
func (l aptLine) Text(base string) string {
	line, err := apt.SourcesLine(base+l.Prefix, l.Suite, l.Components, l.Options...)
	if err != nil {
		return fmt.Sprintf("# apt repository %q has no sources line: %v (the bundle's apt record is not one paimirror writes: build the bundle again)", l.Repository, err)
	}
	return line
}

// aptRows prepares the bundle's apt repositories for the index page, once.
func aptRows(sum bundle.Summary) []aptRow {
	var out []aptRow
	for _, r := range sum.Apt {
		row := aptRow{Name: r.Name, Target: r.Target, Size: bundle.HumanSize(r.Size), KeyPath: r.KeyPath, URL: r.URL, Prefix: r.Prefix,
			Debs: len(r.Packages), Sources: r.Sources}
		var opts []apt.SourceOption
		if len(r.Architectures) > 0 {
			opts = []apt.SourceOption{{Name: "arch", Value: strings.Join(r.Architectures, ",")}}
		}
		for _, suite := range r.Suites {
			row.Lines = append(row.Lines, aptLine{Repository: r.Name, Options: opts, Prefix: r.Prefix, Suite: suite, Components: r.Components})
		}
		if r.Flat {
			row.Lines = append(row.Lines, aptLine{Repository: r.Name, Options: opts, Prefix: r.Prefix, Suite: apt.FlatSuite})
		}
		out = append(out, row)
	}
	return out
}

// rows prepares the bundle's content for the index page, once.
func rows(b *bundle.Bundle, sum bundle.Summary) ([]imageRow, []fileRow) {
	var images []imageRow
	for _, img := range sum.Images {
		images = append(images, imageRow{Ref: img.Ref, Digest: img.Digest, Short: shortHex(img.Digest.Encoded()),
			Size: bundle.HumanSize(img.Size), Platform: img.Platform, Names: img.Names})
	}
	var files []fileRow
	for _, f := range b.Lock.Files {
		files = append(files, fileRow{Name: f.Name, SHA256: f.SHA256, Short: shortHex(f.SHA256),
			Size: bundle.HumanSize(f.Size), Source: f.URL, Unpinned: f.Unpinned, Paths: f.Paths})
	}
	return images, files
}

type pageData struct {
	Mirror string
	Scheme string
	// Base is the mirror's URL, "http://HOST:PORT".
	Base        string
	FromRequest bool
	Manifest    string
	Tool        string
	Created     string
	BundleSize  string
	Images      []imageRow
	Files       []fileRow
	Python      []pythonRow
	Projects    int
	Apt         []aptRow
	PipIndex    string
	Snippets    []snippet
	CAPath      string
	CALines     string
	CAPrint     string
	Example     string
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	hostport, scheme, fromRequest := s.mirrorAddr(r)
	l := s.b.Lock
	d := pageData{
		Mirror: hostport, Scheme: scheme, Base: scheme + "://" + hostport, FromRequest: fromRequest,
		Manifest: l.Manifest.Name, Tool: l.ToolVersion,
		Created:    l.Created.UTC().Format("2006-01-02 15:04 UTC"),
		BundleSize: bundle.HumanSize(s.b.Size),
		Images:     s.images, Files: s.fileRows,
		Python: s.pythonRows, Projects: s.projects,
		Apt:      s.aptRows,
		Snippets: s.snippets(hostport, scheme),
		CAPath:   s.caPath,
	}
	if len(s.pythonRows) > 0 {
		d.PipIndex = pipIndexURL(hostport, scheme)
	}
	if s.caPath != "" {
		d.CALines = caLines(hostport, s.caPath)
		d.CAPrint = fingerprint(s.caPEM)
	}
	for _, img := range l.Images {
		for _, n := range img.Names {
			if strings.Contains(strings.SplitN(n, "/", 2)[0], ".") {
				d.Example = "docker pull " + hostport + "/" + n
				break
			}
		}
		if d.Example != "" {
			break
		}
	}
	var buf bytes.Buffer
	if err := indexTemplate.Execute(&buf, d); err != nil {
		s.log.Error("rendering the index page", "err", err)
		http.Error(w, "500 rendering the index page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	// Everything is inline: no script, no external asset, nothing to fetch.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// shortHex returns the first 12 digits of a digest's hex.
func shortHex(hex string) string {
	if len(hex) > 12 {
		return hex[:12]
	}
	return hex
}

var indexTemplate = template.Must(template.New("index").Funcs(template.FuncMap{"segments": segments}).Parse(indexHTML))

// segments splits a path or URL after each '/', so the page can offer line
// breaks there (<wbr>) and nowhere else.
func segments(p string) []string {
	return strings.SplitAfter(p, "/")
}

const indexHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>paimirror · {{.Manifest}} at {{.Mirror}}</title>
<style>
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --soft:#f6f8fa; --accent:#0969da; --code:#0d1117; --codefg:#e6edf3; --warn:#9a6700; --warnbg:#fff8c5; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; color:var(--fg); background:var(--bg); }
header { background:var(--soft); border-bottom:1px solid var(--line); }
.wrap { max-width:1180px; margin:0 auto; padding:0 24px; }
header .wrap { padding-top:20px; padding-bottom:18px; }
h1 { font-size:26px; margin:0 0 2px; }
h1 small { font-weight:normal; color:var(--muted); font-size:17px; }
h2 { font-size:20px; margin:34px 0 10px; padding-bottom:6px; border-bottom:1px solid var(--line); }
h3 { font-size:15px; margin:22px 0 4px; }
p { margin:6px 0; }
.muted { color:var(--muted); }
.stats { display:flex; flex-wrap:wrap; gap:10px; margin-top:14px; }
.stat { background:var(--bg); border:1px solid var(--line); border-radius:8px; padding:8px 14px; min-width:140px; }
.stat b { display:block; font-size:19px; }
.stat span { color:var(--muted); font-size:13px; }
.addr { margin-top:14px; font-size:16px; }
.addr code { font-size:16px; background:#ddf4ff; border:1px solid #b6e3ff; padding:2px 8px; border-radius:6px; }
.note { background:var(--warnbg); color:var(--warn); border:1px solid #eed888; border-radius:6px; padding:6px 10px; margin:10px 0; font-size:14px; }
code { font-family:ui-monospace, SFMono-Regular, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size:13px; }
pre { background:var(--code); color:var(--codefg); padding:12px 14px; border-radius:8px; margin:6px 0 0; line-height:1.45; overflow-x:auto; }
pre code { font-size:13px; }
.where code { background:var(--soft); border:1px solid var(--line); padding:1px 6px; border-radius:4px; }
table { border-collapse:collapse; width:100%; font-size:14px; }
th, td { text-align:left; vertical-align:top; padding:6px 10px; border-bottom:1px solid var(--line); }
th { background:var(--soft); font-weight:600; position:sticky; top:0; }
tr:nth-child(even) td { background:#fbfcfd; }
td.num { text-align:right; white-space:nowrap; }
td.lines pre { margin:0; padding:6px 10px; }
td code.digest { white-space:nowrap; }
.names code, .paths a { display:block; }
.paths a + a { margin-top:4px; }
a { color:var(--accent); text-decoration:none; }
a:hover { text-decoration:underline; }
.tag { display:inline-block; font-size:11px; padding:0 6px; border-radius:10px; background:var(--warnbg); color:var(--warn); margin-left:4px; }
.hint { margin-top:18px; }
footer { margin:40px 0 30px; color:var(--muted); font-size:13px; }
</style>
</head>
<body>
<header><div class="wrap">
<h1>paimirror <small>offline mirror for OpenPAI v1.8.0</small></h1>
<div class="muted">manifest <b>{{.Manifest}}</b>{{with .Tool}} · built by paimirror {{.}}{{end}}</div>
<div class="stats">
  <div class="stat"><b>{{len .Images}}</b><span>images</span></div>
  <div class="stat"><b>{{len .Files}}</b><span>files</span></div>
{{- if .Python}}
  <div class="stat"><b>{{.Projects}}</b><span>Python packages ({{len .Python}} files)</span></div>
{{- end}}
{{- if .Apt}}
  <div class="stat"><b>{{len .Apt}}</b><span>apt repositories</span></div>
{{- end}}
  <div class="stat"><b>{{.BundleSize}}</b><span>bundle size</span></div>
  <div class="stat"><b>{{.Created}}</b><span>built</span></div>
</div>
<div class="addr">Mirror address: <code id="mirror">{{.Scheme}}://{{.Mirror}}</code></div>
{{- if .FromRequest}}
<div class="note">This address is the one your browser used. If the cluster's nodes reach this machine at another address, restart <code>paimirror serve</code> with <code>--advertise HOST:PORT</code>: the snippets below use it.</div>
{{- end}}
</div></header>

<main class="wrap">
<h2 id="config">Point the install at this mirror</h2>
<p>Paste these into the pai v1.8.0 checkout on the dev box before running <code>quick-start-kubespray.sh</code>
(<code>paimirror install</code> does all of it for you). The same text, for scripts:
<a href="/config.txt">/config.txt</a>, <a href="/config.yaml">/config.yaml</a>, <a href="/daemon.json">/daemon.json</a>.</p>
{{range .Snippets}}
<section id="{{.ID}}">
<h3 class="where"><code>{{.Where}}</code></h3>
<p class="muted">{{.Note}}</p>
<pre><code>{{.Text}}</code></pre>
</section>
{{- end}}
{{- if .CAPath}}
<section id="ca">
<h3>Trust the mirror's certificate authority</h3>
<p class="muted">This mirror speaks TLS with a CA paimirror generated, served at <a href="{{.CAPath}}">{{.CAPath}}</a>.
On every node and on the dev box, install it for docker and for the system (kubespray's downloads check it).
<code>-k</code> is needed once, to fetch the CA itself: compare the fingerprint the last line prints{{if .CAPrint}} with <code>{{.CAPrint}}</code>{{end}}.</p>
<pre><code>{{.CALines}}</code></pre>
</section>
{{- end}}
<p class="muted hint">Docker Hub images need no name change: with the mirror in <code>registry-mirrors</code>, <code>docker pull openpai/rest-server:v1.8.0</code> comes from here.
Images of other registries live under their registry's host{{if .Example}}: <code>{{.Example}}</code>{{end}}.</p>

<h2 id="images">Images <span class="muted">({{len .Images}})</span></h2>
<table>
<thead><tr><th>Upstream image</th><th>Served as</th><th>Size</th><th>Digest</th></tr></thead>
<tbody>
{{- range .Images}}
<tr><td><code>{{.Ref}}</code></td><td class="names">{{range .Names}}<code>{{.}}</code>{{end}}</td><td class="num">{{.Size}}</td><td><code class="digest" title="{{.Digest}}">{{.Short}}</code></td></tr>
{{- end}}
</tbody>
</table>

<h2 id="files">Files <span class="muted">({{len .Files}})</span></h2>
<table>
<thead><tr><th>File</th><th>Served at</th><th>Size</th><th>SHA-256</th></tr></thead>
<tbody>
{{- range .Files}}
<tr><td><b>{{.Name}}</b>{{if .Unpinned}} <span class="tag" title="upstream publishes no checksum; the digest is of the bytes downloaded at build time">unpinned</span>{{end}}<br><span class="muted"><code>{{range segments .Source}}{{.}}<wbr>{{end}}</code></span></td>
<td class="paths">{{range .Paths}}<a href="{{.}}"><code>{{range segments .}}{{.}}<wbr>{{end}}</code></a>{{end}}</td><td class="num">{{.Size}}</td><td><code class="digest" title="{{.SHA256}}">{{.Short}}</code></td></tr>
{{- end}}
</tbody>
</table>

{{- if .Python}}

<h2 id="python">Python packages <span class="muted">({{.Projects}} packages, {{len .Python}} files)</span></h2>
<p>pip installs them from the index at <a href="/pypi/simple/"><code>{{.PipIndex}}</code></a> (see <a href="#pip-conf">the pip config</a> above).</p>
<table>
<thead><tr><th>Package</th><th>Version</th><th>File</th><th>Size</th><th>SHA-256</th></tr></thead>
<tbody>
{{- range .Python}}
<tr><td><a href="{{.Path}}"><code>{{.Project}}</code></a></td><td>{{.Version}}</td><td><code>{{.Filename}}</code></td><td class="num">{{.Size}}</td><td><code class="digest" title="{{.SHA256}}">{{.Short}}</code></td></tr>
{{- end}}
</tbody>
</table>
{{- end}}

{{- if .Apt}}

<h2 id="apt">Apt repositories <span class="muted">({{len .Apt}})</span></h2>
<p>Each is served byte for byte as its publisher signed it, so apt verifies it with the keys a node already trusts.
<code>paimirror install</code> points the nodes' apt at those marked <i>sources</i>; kubespray adds the others itself.
To do it by hand, see the apt files in <a href="#config">the config above</a>.</p>
<table>
<thead><tr><th>Repository</th><th>Target</th><th>.debs</th><th>Size</th><th>apt sources lines</th></tr></thead>
<tbody>
{{- range .Apt}}
<tr><td><b>{{.Name}}</b>{{if .Sources}} <span class="tag">sources</span>{{end}}<br><span class="muted">key: <a href="{{.KeyPath}}"><code>{{range segments .KeyPath}}{{.}}<wbr>{{end}}</code></a></span></td><td>{{.Target}}</td><td class="num">{{.Debs}}</td><td class="num">{{.Size}}</td>
<td class="lines"><pre><code>{{range $i, $l := .Lines}}{{if $i}}{{"\n"}}{{end}}{{$l.Text $.Base}}{{end}}</code></pre></td></tr>
{{- end}}
</tbody>
</table>
{{- end}}

<footer>
The lock: <a href="/paimirror.json">/paimirror.json</a> · health: <a href="/healthz">/healthz</a> · metrics: <a href="/metrics">/metrics</a> · the registry API is at <code>/v2/</code>{{if .Python}}, the Python package index at <a href="/pypi/simple/"><code>/pypi/simple/</code></a>{{end}}.
</footer>
</main>
</body>
</html>
`

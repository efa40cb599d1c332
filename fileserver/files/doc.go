// Package files is what paimirror serve answers besides the registry: a
// bundle's files in place, at each of their mirror paths, and the pages
// people and scripts use to point an OpenPAI v1.8.0 install at the mirror.
// It is an http.Handler (Server) for every path but /v2/; the listener
// (package fileserver) routes to it, counts and logs its requests, and
// owns TLS. It knows nothing of the listener: it does not import it.
//
// # Routes
//
//	/                 HTML page: what the bundle holds, and the config to paste
//	                  with this mirror's address filled in
//	/config.txt       every config snippet as plain text
//	/config.yaml      the config.yaml openpai_kubespray_extra_var block
//	/daemon.json      the docker daemon.json keys
//	/paimirror.json   the bundle's lock (what the installer reads)
//	/healthz          200 "ok"
//	<mirror path>     a file of the bundle, at each path the lock gives it:
//	                  "/<host>/<url path>" and extra paths such as
//	                  "/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"
//	<CA path>         the generated CA certificate, with Options.CAPEM
//	<a page of yours> Options.Pages (serve's /metrics)
//	/pypi/...         the bundle's Python packages as a PEP 503 simple index
//	                  (bundle/pypi's SimpleIndex): /pypi/simple/,
//	                  /pypi/simple/<project>/, /pypi/packages/<sha256>/<file>;
//	                  pip's index URL is http://HOST:PORT/pypi/simple/
//
// Every path at or under /pypi belongs to the package index and never falls
// through to the files; a bundle without Python packages answers 404 there,
// and its pages offer no pip config. With Python packages, the index page
// counts them and lists their files, and the snippets (on the page and in
// /config.txt) include /etc/pip.conf for the dev box (index-url and
// trusted-host). Server.Route says which of these a request is, for the
// listener's counters.
//
// Only GET and HEAD are answered (405 otherwise). The address in the
// snippets is Options.Advertise, else the request's Host; the scheme is
// Options.Scheme, else that of the request.
//
// # Files
//
// A file is read from the bundle in place through http.ServeContent, so
// Range (206, multiple ranges, 416), HEAD and conditional requests work:
// ETag is the strong "sha256:<hex>" of the content (If-None-Match, If-Range),
// Last-Modified is the bundle's build time (If-Modified-Since). Repr-Digest
// (RFC 9530) carries the same sha256. Content-Type comes from the path's
// extension, never from sniffing: .yml and .yaml are application/yaml (RFC
// 9512; the device plugin manifests piped into kubectl), .json
// application/json, .tgz and .gz application/gzip, everything else
// application/octet-stream, so no file is ever rendered as a page
// (X-Content-Type-Options: nosniff). A file's bytes go from the bundle
// file to the socket by sendfile(2) when the ResponseWriter is net/http's,
// or one that passes its ReadFrom through SendRegion (the listener's
// recorder does): never through serve's memory.
//
// # Paths are never trusted
//
// A request reaches a file only through an exact map of the lock's paths
// (paths.go, the one chokepoint; fuzzed by FuzzLookup).
// The request path is decoded once and never cleaned, so "..", "." and
// doubled slashes cannot match a (clean) lock path; percent-encoded '/',
// '\', '.' and NUL, literal backslashes and control characters are refused
// outright. Anything else is a 404 with a fixed body: never a redirect,
// never an echo of the request. Do not put a Server behind an
// http.ServeMux: it redirects paths holding "..", "." or "//" to cleaned
// ones before any handler sees them.
//
// # Cost and concurrency
//
// New reads only the lock (one pass over its paths, a hash of it); a file
// request costs a map lookup and a descriptor for the sendfile. A Server
// is safe for concurrent use, never changes after New and never writes to
// the bundle.
package files

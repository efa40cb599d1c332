// Package fileserver is the file side of paimirror serve: an http.Handler
// for every path except the registry's /v2/, serving a bundle's files in
// place and the pages people and scripts use to point an OpenPAI v1.8.0
// install at the mirror.
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
//	/metrics          Prometheus exposition format (see Metrics)
//	<mirror path>     a file of the bundle, at each path the lock gives it:
//	                  "/<host>/<url path>" and extra paths such as
//	                  "/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"
//	<CA path>         the generated CA certificate, with WithCA
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
// trusted-host).
//
// Only GET and HEAD are answered (405 otherwise). The address in the
// snippets is WithAdvertise's, else the request's Host; the scheme is
// WithScheme's, else that of the request.
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
// (X-Content-Type-Options: nosniff).
//
// # Paths are never trusted
//
// A request reaches a file only through an exact map of the lock's paths.
// The request path is decoded once and never cleaned, so "..", "." and
// doubled slashes cannot match a (clean) lock path; percent-encoded '/',
// '\', '.' and NUL, literal backslashes and control characters are refused
// outright. Anything else is a 404 with a fixed body: never a redirect,
// never an echo of the request.
//
// # Metrics
//
// A Server counts every request it answers by Kind (KindFile, KindPage,
// KindPyPI) in its Metrics. The registry's requests are counted in the
// same Metrics (KindBlob, KindManifest, KindAPI) by Server.Handler, which
// routes one listener:
//
//	fs := fileserver.New(b, fileserver.WithAdvertise(addr), fileserver.WithLogger(log))
//	srv := &http.Server{Addr: addr, Handler: fs.Handler(registryHandler)}
//
// A registry handler that is a CountingHandler (registry.Registry is)
// reports each response itself; any other is wrapped with
// Metrics.Instrument. Either way each request passes through one
// ResponseWriter wrapper only. Do not put the Server behind an
// http.ServeMux: it redirects paths holding "..", "." or "//" to cleaned
// ones before any handler sees them.
//
// /metrics is served by github.com/prometheus/client_golang (promhttp: the
// text format 0.0.4 unless the scraper asks for another) from a
// Prometheus registry of the Server's own, never the global default one,
// so only these metrics and the bundle's gauges (paimirror_bundle_*) are
// there.
//
// # Concurrency
//
// A Server and a Metrics are safe for concurrent use. A Server never changes
// after New and never writes to the bundle.
package fileserver

// Package fileserver is the HTTP side of paimirror serve: the one listener
// that serves a bundle as a registry and a file server on one port. Serve
// owns it whole: the router, the counters of every request, the access
// log, TLS (with tlsca's generated CA), request body limits, shedding idle
// connections when file descriptors run short, and the drain on shutdown.
// The registry is handed in as an http.Handler; fileserver does not import
// it (the import rule: manifests/imports_test.go).
//
// # Routes
//
//	/v2, /v2/...      the registry handler given to Serve or Server.Handler
//	/metrics          Prometheus exposition format (see Metrics)
//	/paimirror-ca.crt the generated CA (PathCA), with ServeOptions.TLSDir
//	everything else   the bundle's files and pages: package files (/, the
//	                  config snippets, /paimirror.json, /healthz, /pypi/...,
//	                  each file at its mirror paths)
//
// Server.Handler routes one listener:
//
//	s := fileserver.New(b, fileserver.WithAdvertise(addr), fileserver.WithLogger(log))
//	srv := &http.Server{Addr: addr, Handler: s.Handler(registryHandler)}
//
// and Serve does that, with the rest of the listener:
//
//	err := fileserver.Serve(ctx, b, registryHandler, fileserver.ServeOptions{Addr: ":5000"})
//
// Do not put the Server behind an http.ServeMux: it redirects paths holding
// "..", "." or "//" to cleaned ones before any handler sees them.
//
// # Metrics and the access log
//
// A Server counts every request it answers by Kind in its Metrics:
// KindFile, KindPage and KindPyPI for the files' side (files.Server.Route
// says which), KindBlob, KindManifest and KindAPI for the registry's
// (RegistryKind). A registry handler that is a CountingHandler
// (registry.Registry is) reports each response itself; any other is
// wrapped with Metrics.Instrument. Either way each request passes through
// one ResponseWriter wrapper only, whose ReadFrom hands a file's bytes to
// files.SendRegion so they still go out by sendfile(2). With the access log
// on (WithAccessLog, ServeOptions.AccessLog), each counted request of every
// kind is one Info record, written where it is counted: the registry's
// own access log is not to be turned on as well.
//
// /metrics is served by github.com/prometheus/client_golang (promhttp: the
// text format 0.0.4 unless the scraper asks for another) from a
// Prometheus registry of the Server's own, never the global default one,
// so only these metrics and the bundle's gauges (paimirror_bundle_*) are
// there.
//
// # Connections
//
// Serve sets no read or write timeout, so a pull or push of any length is
// never cut; idle keep-alive connections close after
// ServeOptions.IdleTimeout. An upload's body (POST, PUT, PATCH under /v2/,
// with ServeOptions.Uploads) must bring 64 KiB a minute; any other
// request's body is never waited for (its answer closes the connection).
// When accepting fails for want of file descriptors, the longest idle
// keep-alive connections are closed to make room. On shutdown every answer
// closes its connection, and new connections are accepted until no request
// has been in flight for 1s or ServeOptions.Drain has passed.
//
// # Concurrency
//
// A Server and a Metrics are safe for concurrent use. A Server never changes
// after New and never writes to the bundle.
package fileserver

// Package badlink gives tests real bad links and real registries to pull
// through them: toxiproxy's server and distribution's registry, each the
// real program in a process of its own on loopback ports, and fronts,
// small HTTP servers that put in front of any upstream the behaviours of
// the internet's registries and CDNs (redirects to expiring URLs, bearer
// tokens that expire, servers that ignore Range, 429 with Retry-After).
// They stand in for the network and the registries, never for paimirror's
// own code; the package imports nothing of paimirror's but testenv, so
// the tests of any package (bundle and its download engine included) can
// use it.
//
// # Programs
//
// Toxiproxy runs toxiproxy's server (ToxiproxyVersion, package
// github.com/Shopify/toxiproxy/v2/cmd/server, checked through the
// binary's Go build information) and Registry runs distribution's
// registry (RegistryVersion, checked by `registry --version`). Each is
// looked for in its environment variable (PAIMIRROR_TOXIPROXY,
// PAIMIRROR_REGISTRY), then in $PAIMIRROR_CACHE/bin (toxiproxy-server,
// registry; PAIMIRROR_CACHE defaults to the user cache dir's paimirror/),
// where .ci/badlink-tools.sh builds them, then on PATH. A missing program,
// or another version, skips the test, or fails it where
// testenv.RequireEnv is set (.ci/run sets it); testenv finds them. Each process listens only on 127.0.0.1, writes only
// in the test's temp dirs, and is stopped by its PID when the test ends
// (killed by the kernel if the test binary dies first, on Linux).
//
// # Toxiproxy
//
// A Proxy relays each TCP connection it accepts to its upstream through
// its toxics, spoken to over toxiproxy's HTTP JSON API. Toxics apply per
// connection: each connection has its own toxic state (LimitData's byte
// count, Bandwidth's rate, ResetPeer's timer), so a client that opens a
// new connection starts afresh, and two connections under Bandwidth get
// the rate each. A toxic added while connections are open applies to them
// too. Whether a toxic with toxicity below 1 applies is drawn once per
// connection. The convenience methods (Bandwidth, LimitData, ResetPeer,
// Latency, Timeout) all act on the downstream, the upstream's data to the
// client, and name the toxic after its type, for RemoveToxic.
//
// # Registry
//
// Reg serves filesystem storage in a temp dir over HTTP or, with
// RegistryOptions.TLS, HTTPS from a CA made for the test; with
// RegistryOptions.Htpasswd it wants basic auth for a generated user. It
// serves every form of Range on blob GETs (bytes=a-b, bytes=N-, bytes=-N,
// several ranges as multipart/byteranges; 206 with Content-Range; 416 past
// the end), unlike go-containerregistry's in-memory registry, which
// answers bytes=N- with 416.
//
// Its access log is the Apache combined format on standard output, one
// line per request once its handler has returned, with the body bytes the
// registry wrote (not what the client read: after a cut connection the
// figure includes what the kernel's buffers took). AccessLog, BlobGets
// and BytesServed read it after waiting until the registry has no request
// in flight (its Prometheus gauge, on a debug port) and has logged a
// request of their own sent after that, so a transfer that has ended for
// the client is counted.
//
// # Fronts
//
// A Front is an httptest server on a loopback port that proxies to its
// upstream (any URL: a Reg's, another front's, a Proxy's) with
// net/http/httputil's ReverseProxy, passing Range and Content-Range
// through, flushing as the upstream's body arrives, and adding
// WithBasicAuth's credentials where the upstream wants them
// (Reg.FrontOptions gives a registry's). It records every request it
// answers (method, path, Range, status, body bytes, and a Kind saying
// what it did), for assertions. Expiry is judged by WithClock's clock, so
// a test moves past a TTL without waiting. Fronts chain: a toxiproxy
// Proxy in front of a TokenFront in front of a RedirectFront in front of
// a Reg is a link with all their faults.
//
// # Concurrency
//
// Toxi, Proxy, Reg and Front are safe for concurrent use; methods taking a
// testing.TB fail that test on error and so belong on its goroutine.
//
// It is test support, never part of an install.
package badlink

// Package registry serves a bundle's images over the registry API (/v2/),
// read in place: distribution v3's handlers.App, embedded, over a storage
// driver that synthesizes distribution's storage layout from the bundle's
// lock and reads blob data as sections of the bundle's tar.
//
// # The synthesized layout
//
// distribution keeps everything under /docker/registry/v2 (the layout of
// its registry/storage/paths.go). New builds that tree in memory from the
// lock alone, without reading any blob, so start-up costs in proportion to
// the number of images, names and blobs, not to the bundle's size:
//
//	blobs/sha256/<hex[:2]>/<hex>/data
//	    for every image's manifest, config and layers: a section of the tar
//	    (Reader with an offset is a shorter section, so Range requests of
//	    a verified blob cost nothing extra). The bundle's plain files are
//	    not blobs of the registry.
//	repositories/<repo>/_manifests/revisions/sha256/<hex>/link
//	repositories/<repo>/_manifests/tags/<tag>/current/link
//	repositories/<repo>/_manifests/tags/<tag>/index/sha256/<hex>/link
//	    the image manifest's digest, for every mirror name "repo:tag" of
//	    every image ("library/busybox:1.31.1",
//	    "gcr.io/google-containers/kube-apiserver:v1.15.11", the alias
//	    "siaimes/kube-apiserver:v1.15.11", ...)
//	repositories/<repo>/_layers/sha256/<hex>/link
//	    for the config and every layer of the image, in every repository
//	    the image is named in.
//
// Every directory on the way is a node too, with its children sorted, so
// Stat, List, GetContent, Reader and Walk agree with each other, and the
// tag list (a List of _manifests/tags) and the catalog (a Walk of
// repositories/ that stops at each _manifests) work unchanged. Links and
// blob data report the lock's build time as their modification time.
//
// # Blobs
//
// GET and HEAD of /v2/<name>/blobs/<digest>, for a blob the bundle holds in
// the repository <name> (its config or one of its layers, as distribution
// scopes blobs through the repository's _layers links), are answered by
// Registry itself, in front of distribution: the same status codes and
// headers (Docker-Distribution-API-Version, X-Content-Type-Options,
// Docker-Content-Digest, ETag, Cache-Control, Content-Type, Content-Length,
// Accept-Ranges) and the same Range (206, several ranges, 416), HEAD and
// conditional answers, from net/http's ServeContent as distribution's. The
// body goes from the bundle file to the socket with sendfile(2), through a
// descriptor of the request's own opened onto the very file the bundle
// holds open (never by name), so its bytes never pass through this
// process. Every other request, including a blob the repository does not
// hold (404 BLOB_UNKNOWN) and pushed repositories, goes to distribution,
// which reads blob data through the driver.
//
// Each request passes through one ResponseWriter wrapper, the registry's
// recorder; ServeCounted reports what it saw (status, bytes, cut short) so
// that a caller (fileserver) can count requests without a recorder of its
// own.
//
// # Damaged blobs
//
// serve checks the bundle's structure at start, not every blob's bytes
// (that is paimirror verify's work, and would cost a read of the whole
// bundle). Instead each blob is checked against its digest the first time
// it is served, and remembered as good (a concurrent-safe set), so later
// reads cost nothing extra. A blob GET answered by Registry hashes the
// whole blob from the local disk before its first byte is sent (sendfile
// cannot hash as it streams); a HEAD, or a conditional GET answered 304,
// reads nothing. Through distribution's path (the driver's Reader) a full
// GET hashes as it streams and checks before the last bytes go out, and a
// ranged GET of a blob not yet verified first hashes the whole blob. A
// damaged blob is never served complete: the read fails with ErrDamaged,
// the response is cut (the client sees a broken connection, or a short
// body, never a complete wrong one), and one Error record names the blob
// and says to run paimirror verify. Manifests and configs, read whole
// through GetContent, are checked the same way.
//
// # Read-only and writable
//
// By default the registry runs in distribution's read-only maintenance mode
// and the driver refuses every write (ErrReadOnly); in front of
// distribution, Registry answers every push and delete with the registry
// error 405 UNSUPPORTED and a JSON body (distribution's own read-only
// answer is a bare 405 with a plain-text body).
//
// WithWritable(dir) puts an overlay driver in its place: distribution's
// filesystem driver rooted at dir above the bundle driver. Reads try dir
// first and then the bundle; List merges both, so tags pushed to a
// repository the bundle also holds are listed with the bundle's, and pushed
// repositories join the catalog. Writes go to dir only. The bundle is never
// changed: a write that would give a bundle path other bytes, and a delete
// of anything the bundle holds, fail in the driver with ErrBundleContent,
// and Registry refuses the requests that would cause them (replacing a
// bundle tag with another manifest, deleting a bundle tag, manifest or
// blob) with 403 DENIED first. Writing identical bytes (re-pushing a bundle
// image unchanged) succeeds without writing.
//
// Writable, Registry also refuses a manifest push whose descriptors give
// sizes other than those of the blobs the registry holds under their
// digests (400 MANIFEST_INVALID; distribution checks only that the blobs
// exist), and removes uploads left unfinished for more than 24 hours
// (distribution's upload state under repositories/<name>/_uploads/) at
// start and every hour.
//
// Any server error (5xx) reaches the client with its registry error codes
// only: distribution's messages and details, which can carry the server's
// paths (the writable directory's, on a full disk), go to the log, as an
// Error record, instead.
//
// # Beyond distribution
//
// distribution v3.1 has no referrers API; Registry answers
// GET /v2/<name>/referrers/<digest> itself (the manifests of <name> whose
// subject is <digest>, read through the same driver, each parsed once) and
// puts OCI-Subject on the 201 of a manifest push that has a subject. Layer
// URLs (non-distributable layers) may be http(s) URLs. CONFORMANCE.md
// records the OCI conformance suite's results.
//
// # Embedding distribution
//
// distribution creates its storage driver through a global factory table
// filled at init time, from configuration parameters. This package
// registers one factory, "paimirror", the first time New runs; each New
// parks its driver in a process-local map under a random instance id,
// passes that id as the storage parameter "instance" to handlers.NewApp,
// whose factory call picks the driver up, and removes it again once NewApp
// returns. distribution's upload purging (replaced by this package's own),
// redis and redirects are off; http.secret is
// random per Registry. http.DefaultServeMux (where distribution's health
// package registers itself) is never served.
//
// distribution logs through logrus's global standard logger. The first New
// silences it and installs one hook that routes each entry, by the instance
// id distribution copies from the request context, to the slog logger of
// the Registry it belongs to (WithLogger; default: discard). A request's
// warnings and errors are held until its status is known: after a 5xx they
// are logged as Warn and Error, after anything else (an unknown manifest, a
// bad digest: the client's mistake, which distribution logs at error level)
// as Debug. A failed read of the bundle file is always an Error record.
// WithAccessLog(true) adds one Info record per request.
//
// # Concurrency
//
// A Registry is safe for concurrent use by any number of requests. The
// synthesized tree is immutable once New returns; blob data is read with
// ReadAt on the bundle's files, or sent from a descriptor each request
// opens for itself, which needs no locking; the writable
// layer is distribution's filesystem driver, which is as safe as
// distribution makes it (concurrent pushes of the same blob or tag end
// with one of them winning). Several Registries, over one bundle or
// several, may live in one process.
package registry

// Package fetch is build's download engine: every blob, file, Python
// package, apt index and .deb a build stores comes through it. It is made
// for links that reset connections in the middle of a transfer, throttle
// every TCP flow, answer 429 and redirect to CDNs whose URLs expire.
//
// # What a download does
//
// Engine.Fetch downloads one blob, named by its sha256 digest (or, for a
// file whose upstream publishes no checksum, by the URL of its first
// source), from a list of sources that all serve the same bytes:
//
//   - Resume inside a blob. A transfer that breaks continues with an HTTP
//     Range request from the last byte received. The bytes received and
//     which ranges they cover are kept in Options.Dir (<key>.part and
//     <key>.state), so they survive retries and a killed process: the next
//     Fetch of the same blob continues where the last one stopped. The
//     state is rewritten after each chunk is written, never before, so it
//     never claims bytes the part file does not hold.
//   - Verify the whole. The sha256 is computed over the whole blob, the
//     prefix kept from an earlier run included, as the contiguous prefix
//     grows; the blob is handed to Request.Commit only when it matches.
//     Bytes that do not match are thrown away and the blob starts over
//     from one source at a time, so a source that serves wrong bytes is
//     named in the *DigestError.
//   - Several connections per large blob. Once the size is known, a blob
//     of at least 2×Options.SegmentMin is fetched as up to
//     Options.Connections parallel Range segments. A connection that
//     finishes its segment takes half of the largest one left (down to
//     SegmentMin), so a slow connection or source ends up with less of the
//     blob and the fast ones take over its share. Connections are spread
//     over every source of the blob, in order; Options.MaxConnections
//     bounds them across all downloads.
//   - Retry while progress is made. A source is retried as long as its
//     attempts bring bytes; after Options.Retries attempts in a row that
//     bring none it is given up for this blob and the others carry on.
//     Waits between attempts grow exponentially, with jitter; a 429 or 503
//     with Retry-After waits what the server asks (up to
//     Options.MaxRetryAfter). A 401 is answered by the source's client
//     (go-containerregistry's registry transport fetches a new token). A
//     CDN redirect is remembered for the blob's later range requests; when
//     the CDN refuses it (expired: 401, 403, 404, 410) the blob is asked
//     of the registry again, which issues a fresh one.
//   - The same patience outside Fetch. Engine.Patient wraps the
//     transport of the small requests a build makes itself (manifests and
//     tokens through go-containerregistry, index pages): a 429 or 503 is
//     waited out the same way, as Docker Hub's pull limit answers on
//     manifests.
//   - Servers that ignore Range. A 200 with the whole body to a request
//     for a later range means the source cannot resume: the blob starts
//     over from byte 0 on that response when no other source can serve
//     ranges, and never stores bytes at the wrong offset. A 416 starts
//     the blob over.
//   - Host health. Hosts that cannot be reached (no DNS answer, refused,
//     no route) are remembered by the engine: later blobs try them last,
//     and Engine.Unreachable reports each with the number of items that
//     needed it, so a caller can say so once.
//
// # What it shows
//
// A URL in an event, a log record, an error or Result.Source (a source's
// name, an item, the redirect target net/http's error names) is shown
// without the password of its userinfo and without its query values
// (package manifests/redact): a CDN's presigned query (X-Amz-Signature,
// Docker Hub's verify=) and a mirror's https://user:pass@ never leave the
// engine.
//
// # Concurrency
//
// An Engine is safe for concurrent use. Fetch calls for the same blob
// should not overlap (the caller deduplicates; a second call downloads it
// again, apart). Options.Progress is called from many goroutines; it must
// be safe for concurrent use.
package fetch

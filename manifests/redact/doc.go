// Package redact hides the credentials a URL or a message can carry before
// paimirror prints, logs or returns it: the password (or token) in a URL's
// userinfo, and the values of its query, where CDNs and registries put
// signatures and tokens (S3's and GCS's presigned X-Amz-Signature,
// X-Amz-Credential, X-Goog-Signature, Azure's sig, CloudFront's
// Signature, Docker Hub's CDN verify=, a registry's upload _state).
//
// It is the one place paimirror decides what of a URL may be shown. The
// rule:
//
//   - userinfo: "user:pass@" becomes "user:xxxxx@" (as net/url's
//     Redacted); a user alone, which is often a token
//     (https://TOKEN@host), becomes "xxxxx@".
//   - query: each value becomes REDACTED, its key kept, except the keys
//     that the registry API uses and that carry no secret (Allowed: scope
//     and service of a token request, mount and from of a cross-repository
//     mount, digest of an upload, n and last of a listing), whose values
//     are kept. A query part without '=' is a value. Empty values stay
//     empty.
//   - everything else is kept byte for byte: scheme, host, port, path and
//     fragment, the order of the query's parts and their escaping. A URL
//     with no userinfo and no query comes back unchanged, so ordinary
//     messages do not change.
//
// URL applies the rule to one URL or URL reference (a request URI such as
// "/v2/x/blobs/uploads/u?_state=…" too); Text to every URL inside a
// message (scheme://… up to a space, a quote or an angle bracket, with
// trailing punctuation left outside), which covers the texts of
// net/http's *url.Error and of libraries that put URLs into their errors;
// Error to an error's message, keeping what errors.Is and errors.As find;
// Handler to every record a slog.Logger writes.
//
// The functions are pure, safe for concurrent use, and linear in the
// length of their input; a text without "://" is scanned once by
// strings.Index and returned as it is.
package redact

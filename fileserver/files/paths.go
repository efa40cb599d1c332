package files

import (
	"net/url"
	"strings"

	"github.com/paimirror/paimirror/bundle"
)

// pathIndex maps every mirror path of the lock, exactly as the lock spells
// it, to the file served there. It is the only way a request reaches a file.
type pathIndex map[string]bundle.File

func newPathIndex(files []bundle.File) pathIndex {
	ix := pathIndex{}
	for _, f := range files {
		for _, p := range f.Paths {
			if _, dup := ix[p]; !dup {
				ix[p] = f
			}
		}
	}
	return ix
}

// lookup returns the file a request URL names, if any.
func (ix pathIndex) lookup(u *url.URL) (bundle.File, bool) {
	p, ok := requestPath(u)
	if !ok {
		return bundle.File{}, false
	}
	f, ok := ix[p]
	return f, ok
}

// requestPath returns the decoded path of a request URL when its raw form is
// one a well-behaved client sends for a clean path, and false otherwise. The
// path is never cleaned or normalised: a client that sends "/a/../b" or
// "//b" gets a 404, not the file at "/b" and not a redirect. Refused:
//   - a path that is not absolute, or an opaque URL;
//   - percent-encoded '/', '\', '.' or NUL ("%2f", "%5c", "%2e", "%00",
//     either case), which only traversal attempts need;
//   - a literal backslash, and any control character once decoded.
//
// Anything else is decoded once and then looked up exactly; since every
// lock path is clean, "..", "." and empty segments can never match (but
// see Server.ServeHTTP for apt's flat repositories).
func requestPath(u *url.URL) (string, bool) {
	if u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	raw := strings.ToLower(u.EscapedPath())
	for _, bad := range []string{"%2f", "%5c", "%2e", "%00", `\`} {
		if strings.Contains(raw, bad) {
			return "", false
		}
	}
	for _, c := range []byte(u.Path) {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	return u.Path, true
}

// Package logclip bounds what serve's log records carry of values a client
// chooses (a request's path, URI or Range header; one request can send
// close to 1 MB of them), and hides the credentials a URI's query can
// carry. It is shared by the file server and the registry. Its function
// is pure and safe for concurrent use.
package logclip

import (
	"strconv"
	"strings"

	"github.com/paimirror/paimirror/manifests/redact"
)

// Max is the most bytes of a value a log record carries.
const Max = 200

// Clip returns s with the values of its query hidden (redact.URL: a
// token a client sent, a registry upload's signed _state; the registry
// API's n, last, digest, mount and from are kept), cut to Max bytes (on a
// UTF-8 boundary), with its length noted. A value without '?' or "://"
// (a path, a Range header) is only cut.
func Clip(s string) string {
	s = redact.URL(s)
	if len(s) <= Max {
		return s
	}
	return strings.ToValidUTF8(s[:Max], "") + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

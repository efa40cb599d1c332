// Package logclip bounds what serve's log records carry of values a client
// chooses (a request's path, URI or Range header; one request can send
// close to 1 MB of them). It is shared by the file server and the registry.
// Its function is pure and safe for concurrent use.
package logclip

import (
	"strconv"
	"strings"
)

// Max is the most bytes of a value a log record carries.
const Max = 200

// Clip returns s cut to Max bytes (on a UTF-8 boundary), with its length
// noted.
func Clip(s string) string {
	if len(s) <= Max {
		return s
	}
	return strings.ToValidUTF8(s[:Max], "") + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

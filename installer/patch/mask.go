package patch

import "regexp"

// secretLine matches a YAML line whose key names a secret (password,
// passwd, secret, token, in any case, as part of the key) and has a value.
var secretLine = regexp.MustCompile(`(?m)^(\s*(?:-\s+)?["']?[A-Za-z0-9_.-]*(?i:password|passwd|secret|token)[A-Za-z0-9_.-]*["']?\s*:[ \t]*)([^\s#].*?)[ \t]*\r?$`)

// maskSecrets returns data with the value of every line whose key names a
// secret replaced by ********, for showing a file (a diff, --dry-run),
// never for writing it.
func maskSecrets(data []byte) []byte {
	return secretLine.ReplaceAll(data, []byte("${1}********"))
}

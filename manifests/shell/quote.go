package shell

import "strings"

// Quote returns s as one shell word that the shell reads back as exactly s:
// s in single quotes, where each single quote in s becomes a closing
// quote, a backslash-escaped quote and an opening quote. Nothing inside
// single quotes is expanded, so $(...), backticks, $VAR, spaces and
// newlines stay as they are.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each word with Quote and joins them with spaces.
func Join(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}

// plainChars are the characters a POSIX shell reads literally anywhere
// in an unquoted word: no expansion, pattern, splitting or comment ('~'
// is not one: it expands at the start of a word).
const plainChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%+,-./:=@_"

// Word returns s as one shell word that the shell reads back as exactly
// s: s itself when it is not empty and holds only letters, digits and
// "%+,-./:=@_" (a host name, an IPv4 address, a URL or a path of those),
// else Quote(s). A command line built with Word reads as before for such
// plain values, and stays one literal word for any other, a bracketed
// IPv6 address (a file pattern unquoted) or "$(...)" among them.
func Word(s string) string {
	if s != "" && strings.Trim(s, plainChars) == "" {
		return s
	}
	return Quote(s)
}

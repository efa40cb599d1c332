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

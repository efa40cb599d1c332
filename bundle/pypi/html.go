package pypi

import (
	"html"
	"strings"
)

// ParseAnchors returns the <a> elements of an HTML page, in order. It reads
// the simple pages package indexes write (PEP 503), not arbitrary HTML:
// comments and <script> bodies are skipped, nested anchors are not
// expected, and an unclosed anchor runs to the end of the page.
func ParseAnchors(page string) []Anchor {
	var out []Anchor
	lower := asciiLower(page) // same length as page, byte for byte
	for i := 0; i < len(page); {
		lt := strings.IndexByte(page[i:], '<')
		if lt < 0 {
			break
		}
		i += lt
		switch {
		case strings.HasPrefix(page[i:], "<!--"):
			end := strings.Index(page[i+4:], "-->")
			if end < 0 {
				return out
			}
			i += 4 + end + 3
			continue
		case strings.HasPrefix(lower[i:], "<script"):
			end := strings.Index(lower[i:], "</script")
			if end < 0 {
				return out
			}
			i += end + 1
			continue
		case strings.HasPrefix(lower[i:], "<a") && i+2 < len(page) && isTagSpace(page[i+2]) || strings.HasPrefix(lower[i:], "<a>"):
		default:
			i++
			continue
		}
		attrs, end := parseAttrs(page, i+2)
		i = end
		close := strings.Index(lower[i:], "</a")
		text := page[i:]
		if close >= 0 {
			text = page[i : i+close]
			i += close + 3
		} else {
			i = len(page)
		}
		out = append(out, Anchor{Attrs: attrs, Text: html.UnescapeString(stripTags(text))})
	}
	return out
}

func isTagSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '/'
}

// parseAttrs reads attributes from page[i:] up to the closing '>' and
// returns them and the index after the '>'.
func parseAttrs(page string, i int) (map[string]string, int) {
	attrs := map[string]string{}
	for i < len(page) {
		for i < len(page) && isTagSpace(page[i]) {
			i++
		}
		if i >= len(page) {
			break
		}
		if page[i] == '>' {
			return attrs, i + 1
		}
		start := i
		for i < len(page) && !isTagSpace(page[i]) && page[i] != '=' && page[i] != '>' {
			i++
		}
		name := strings.ToLower(page[start:i])
		for i < len(page) && isTagSpace(page[i]) && page[i] != '/' {
			i++
		}
		val := ""
		if i < len(page) && page[i] == '=' {
			i++
			for i < len(page) && isTagSpace(page[i]) && page[i] != '/' {
				i++
			}
			if i < len(page) && (page[i] == '"' || page[i] == '\'') {
				q := page[i]
				end := strings.IndexByte(page[i+1:], q)
				if end < 0 {
					val, i = page[i+1:], len(page)
				} else {
					val, i = page[i+1:i+1+end], i+1+end+1
				}
			} else {
				start := i
				for i < len(page) && !isTagSpace(page[i]) && page[i] != '>' || i < len(page) && page[i] == '/' {
					i++
				}
				val = page[start:i]
			}
		}
		if name != "" {
			if _, dup := attrs[name]; !dup {
				attrs[name] = html.UnescapeString(val)
			}
		}
	}
	return attrs, len(page)
}

// stripTags removes <...> from s.
func stripTags(s string) string {
	if !strings.Contains(s, "<") {
		return s
	}
	var b strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '<':
			in = true
		case s[i] == '>' && in:
			in = false
		case !in:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// asciiLower lower-cases ASCII letters only, keeping every byte's offset.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

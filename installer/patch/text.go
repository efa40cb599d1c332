package patch

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/paimirror/paimirror/manifests/yamltext"

	"go.yaml.in/yaml/v3"
)

// splitLines splits data into lines, each keeping its line ending. A last
// line without one is kept as it is.
func splitLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// eolOf returns the line ending most lines use: "\r\n" or "\n".
func eolOf(lines []string) string {
	crlf := 0
	for _, l := range lines {
		if strings.HasSuffix(l, "\r\n") {
			crlf++
		}
	}
	if crlf > 0 && crlf*2 >= len(lines) {
		return "\r\n"
	}
	return "\n"
}

// cutEOL splits a line into its text and its line ending.
func cutEOL(line string) (body, eol string) {
	if b, ok := strings.CutSuffix(line, "\r\n"); ok {
		return b, "\r\n"
	}
	if b, ok := strings.CutSuffix(line, "\n"); ok {
		return b, "\n"
	}
	return line, ""
}

// indentOf counts a line's leading spaces.
func indentOf(line string) int {
	return len(line) - len(strings.TrimLeft(line, " "))
}

// edit replaces lines[start:end] with repl; start == end inserts.
type edit struct {
	start, end int
	repl       []string
}

// applyEdits applies non-overlapping edits to lines and returns the text. A
// last line without a line ending gets one when lines are added after it.
func applyEdits(lines []string, edits []edit, eol string) ([]byte, error) {
	edits = slices.Clone(edits)
	slices.SortStableFunc(edits, func(a, b edit) int { return a.start - b.start })
	var out bytes.Buffer
	pos := 0
	for _, e := range edits {
		if e.start < pos || e.end < e.start || e.end > len(lines) {
			return nil, fmt.Errorf("overlapping or out-of-range edit of lines %d-%d", e.start+1, e.end)
		}
		for _, l := range lines[pos:e.start] {
			out.WriteString(l)
		}
		if len(e.repl) > 0 && out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			out.WriteString(eol)
		}
		for _, l := range e.repl {
			out.WriteString(l)
		}
		pos = e.end
	}
	rest := lines[pos:]
	if len(rest) > 0 && out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		out.WriteString(eol)
	}
	for _, l := range rest {
		out.WriteString(l)
	}
	return out.Bytes(), nil
}

// byteOffset converts a 1-based column as yaml.v3 counts it (in
// characters) into a byte offset in line, or -1 when the line is shorter.
func byteOffset(line string, column int) int {
	off := 0
	for i := 1; i < column; i++ {
		if off >= len(line) {
			return -1
		}
		_, n := utf8.DecodeRuneInString(line[off:])
		off += n
	}
	if off > len(line) {
		return -1
	}
	return off
}

// entryEnd returns the index of the last line of the mapping entry whose key
// is on line keyIdx at the given indentation: the last following line that
// is indented deeper (or, for a sequence value, a "- " item at the same
// indentation), skipping blank lines and comments, which stay outside the
// entry when they come last.
func entryEnd(lines []string, keyIdx, indent int, seqValue bool) int {
	end := keyIdx
	for i := keyIdx + 1; i < len(lines); i++ {
		body, _ := cutEOL(lines[i])
		t := strings.TrimLeft(body, " ")
		if strings.TrimSpace(t) == "" || strings.HasPrefix(t, "#") {
			continue
		}
		ind := len(body) - len(t)
		if ind > indent || (seqValue && ind == indent && (t == "-" || strings.HasPrefix(t, "- "))) {
			end = i
			continue
		}
		break
	}
	return end
}

// tokenIs reports whether the source text of a scalar token means value.
func tokenIs(token, value string) bool {
	if token == value && !strings.ContainsAny(token[:min(1, len(token))], `"'`) {
		return true
	}
	var s string
	if err := yaml.Unmarshal([]byte(token), &s); err != nil {
		return false
	}
	return s == value
}

// setValue returns the edit that makes the value of the mapping entry k: v
// the YAML text text. A scalar on the key's line is replaced in place,
// keeping what follows it (a comment); any other value is replaced with
// the entry's lines.
func setValue(lines []string, k, v *yaml.Node, text string) (edit, error) {
	ki := k.Line - 1
	if ki < 0 || ki >= len(lines) {
		return edit{}, fmt.Errorf("line %d is out of range", k.Line)
	}
	body, eol := cutEOL(lines[ki])
	koff := byteOffset(body, k.Column)
	if koff < 0 || !strings.HasPrefix(strings.TrimLeft(body[koff:], `"'`), k.Value) {
		return edit{}, fmt.Errorf("line %d: key %s is not where the parser put it", k.Line, k.Value)
	}
	end := entryEnd(lines, ki, k.Column-1, v.Kind == yaml.SequenceNode)
	if v.Kind == yaml.ScalarNode && v.Line == k.Line && end == ki && v.Anchor == "" &&
		v.Style&(yaml.TaggedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 &&
		!(v.Tag == "!!null" && v.Value == "") {
		if off := byteOffset(body, v.Column); off > koff {
			if e := yamltext.ScalarEnd(body, off, false); e > off && tokenIs(body[off:e], v.Value) {
				return edit{ki, ki + 1, []string{body[:off] + text + body[e:] + eol}}, nil
			}
		}
	}
	if eol == "" {
		eol = eolOf(lines)
	}
	return edit{ki, end + 1, []string{body[:koff] + k.Value + ": " + text + eol}}, nil
}

// docRoot returns a document's content node, or nil when it has none.
func docRoot(doc *yaml.Node) *yaml.Node {
	if doc == nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// quoted renders s as a YAML double-quoted scalar. Callers pass only text
// without '"', '\\' or control characters (checkMirror sees to that), which
// needs no escapes.
func quoted(s string) string { return `"` + s + `"` }

// kindName names a node's kind for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "a document"
}

// yamlErrLine finds the line in a yaml.v3 error message.
var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlParserProblems are yaml.v3 parser (not scanner) messages, whose line
// yaml.v3 reports 0-based; for those marked true it is moreover the line
// where the enclosing list or mapping starts.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or '}'":       true,
	"did not find expected ',' or ']'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"found undefined tag handle":             true,
	"did not find expected node content":     false,
	"did not find expected <document start>": false,
	"did not find expected <stream-start>":   false,
}

// yamlError splits a yaml.v3 error into a 1-based line (0 when unknown)
// and a message starting "yaml: ".
func yamlError(err error) (int, string) {
	msg := err.Error()
	m := yamlErrLine.FindStringSubmatch(msg)
	if m == nil {
		return 0, msg
	}
	line, _ := strconv.Atoi(m[1])
	problem := m[2]
	if inContext, ok := yamlParserProblems[problem]; ok {
		line++
		if inContext {
			problem += " in the list or mapping that starts here"
		}
	}
	return line, "yaml: " + problem
}

// yamlErrorf formats a YAML error of file name as "NAME:LINE: yaml: ...".
func yamlErrorf(name string, err error) error {
	line, msg := yamlError(err)
	if line > 0 {
		return fmt.Errorf("%s:%d: %s", name, line, msg)
	}
	return fmt.Errorf("%s: %s", name, msg)
}

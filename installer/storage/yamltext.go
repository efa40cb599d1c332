package storage

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/paimirror/paimirror/manifests/yamltext"

	"go.yaml.in/yaml/v3"
)

// The YAML files are edited as text, at the positions yaml.v3 reports, so
// that everything Setup does not mean to change (comments, order, quoting,
// blank lines) stays byte for byte. Each edit is checked by parsing the
// result and comparing it with the original, value for value.

// text is a file split into lines, each keeping its line ending.
type text struct {
	lines []string
	eol   string // the line ending most lines use
}

func newText(data []byte) *text {
	t := &text{eol: "\n"}
	if len(data) > 0 {
		t.lines = strings.SplitAfter(string(data), "\n")
		if t.lines[len(t.lines)-1] == "" {
			t.lines = t.lines[:len(t.lines)-1]
		}
	}
	crlf := 0
	for _, l := range t.lines {
		if strings.HasSuffix(l, "\r\n") {
			crlf++
		}
	}
	if crlf > 0 && crlf*2 >= len(t.lines) {
		t.eol = "\r\n"
	}
	return t
}

func (t *text) bytes() []byte { return []byte(strings.Join(t.lines, "")) }

// line returns line n (1-based) without its ending, and the ending.
func (t *text) line(n int) (body, eol string) {
	if n < 1 || n > len(t.lines) {
		return "", ""
	}
	return cutEOL(t.lines[n-1])
}

// setLine replaces the text of line n (1-based), keeping its ending.
func (t *text) setLine(n int, body string) {
	_, eol := cutEOL(t.lines[n-1])
	if eol == "" && n < len(t.lines) {
		eol = t.eol
	}
	t.lines[n-1] = body + eol
}

// insertAfter inserts a line after line n (0: at the top).
func (t *text) insertAfter(n int, body string) {
	if n > 0 {
		if b, eol := cutEOL(t.lines[n-1]); eol == "" {
			t.lines[n-1] = b + t.eol
		}
	}
	t.lines = append(t.lines[:n], append([]string{body + t.eol}, t.lines[n:]...)...)
}

// offset converts a 1-based line and column (as yaml.v3 counts them, in
// characters) into a byte offset in the whole text, or -1.
func (t *text) offset(line, column int) int {
	if line < 1 || line > len(t.lines) {
		return -1
	}
	off := 0
	for _, l := range t.lines[:line-1] {
		off += len(l)
	}
	body, _ := cutEOL(t.lines[line-1])
	c := byteOffset(body, column)
	if c < 0 {
		return -1
	}
	return off + c
}

// cutEOL splits a line into its text and its ending.
func cutEOL(line string) (body, eol string) {
	if b, ok := strings.CutSuffix(line, "\r\n"); ok {
		return b, "\r\n"
	}
	if b, ok := strings.CutSuffix(line, "\n"); ok {
		return b, "\n"
	}
	return line, ""
}

// byteOffset converts a 1-based column in characters into a byte offset in
// line, or -1 when the line is shorter.
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

// tokenMeans reports whether the source text of a scalar token parses as
// the scalar n.
func tokenMeans(token string, n *yaml.Node) bool {
	var v yaml.Node
	if err := yaml.Unmarshal([]byte(token), &v); err != nil || len(v.Content) != 1 {
		return false
	}
	s := v.Content[0]
	return s.Kind == yaml.ScalarNode && s.Value == n.Value && s.ShortTag() == n.ShortTag()
}

// replaceScalar replaces the single-line scalar n (a value in a block or
// flow mapping) with repl, keeping the rest of its line.
func (t *text) replaceScalar(n *yaml.Node, flow bool, repl string) error {
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 || n.Anchor != "" {
		return fmt.Errorf("%w: line %d: the value is not a simple scalar", ErrEdit, n.Line)
	}
	body, _ := t.line(n.Line)
	off := byteOffset(body, n.Column)
	end := yamltext.ScalarEnd(body, off, flow)
	if end <= off || !tokenMeans(body[off:end], n) {
		return fmt.Errorf("%w: line %d: the value does not fit on its line", ErrEdit, n.Line)
	}
	t.setLine(n.Line, body[:off]+repl+body[end:])
	return nil
}

// flowEnd returns the byte offset of the "}" or "]" that closes the flow
// collection whose opening bracket is at byte offset start of data, or -1.
func flowEnd(data string, start int) int {
	depth := 0
	for i := start; i < len(data); i++ {
		c := data[i]
		switch c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i
			}
		case '#':
			if i > 0 && strings.ContainsRune(" \t\r\n", rune(data[i-1])) {
				for i < len(data) && data[i] != '\n' {
					i++
				}
			}
		case '"', '\'':
			// A quote opens a quoted scalar only where a token starts.
			j := i - 1
			for j >= 0 && (data[j] == ' ' || data[j] == '\t' || data[j] == '\r' || data[j] == '\n') {
				j--
			}
			if j >= 0 && !strings.ContainsRune("{[,:", rune(data[j])) {
				continue
			}
			for i++; i < len(data); i++ {
				if c == '"' && data[i] == '\\' {
					i++
					continue
				}
				if data[i] == c {
					if c == '\'' && i+1 < len(data) && data[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
		}
	}
	return -1
}

// addToFlowMapping adds "key: value" as the last entry of the flow mapping
// m, before its closing brace.
func (t *text) addToFlowMapping(m *yaml.Node, entry string) error {
	data := string(t.bytes())
	start := t.offset(m.Line, m.Column)
	if start < 0 || data[start] != '{' {
		return fmt.Errorf("%w: line %d: the flow mapping is not where the parser put it", ErrEdit, m.Line)
	}
	end := flowEnd(data, start)
	if end < 0 {
		return fmt.Errorf("%w: line %d: the flow mapping has no closing brace", ErrEdit, m.Line)
	}
	last := len(strings.TrimRight(data[:end], " \t\r\n"))
	ins := ", " + entry
	switch data[last-1] {
	case '{':
		ins = entry
	case ',':
		ins = " " + entry
	}
	data = data[:last] + ins + data[last:]
	*t = *newText([]byte(data))
	return nil
}

// decodeAny parses data into plain values for comparing files.
func decodeAny(data []byte) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	err = yaml.Unmarshal(data, &v)
	return v, err
}

// root returns a document's top node, or nil.
func root(doc *yaml.Node) *yaml.Node {
	if doc == nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// lookup returns the key and value nodes of key in mapping m, or nils.
func lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// isString reports whether n is the YAML string s (not a boolean or a
// number that prints the same).
func isString(n *yaml.Node, s string) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && n.Value == s
}

// isFlow reports whether n is a flow collection.
func isFlow(n *yaml.Node) bool { return n != nil && n.Style&yaml.FlowStyle != 0 }

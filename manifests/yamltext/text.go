package yamltext

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Lines splits data into lines, each keeping its line ending; a last line
// without one is kept as it is. Joining them gives data back.
func Lines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// CutEOL splits a line into its text and its ending ("\r\n", "\n" or "").
func CutEOL(line string) (body, eol string) {
	if b, ok := strings.CutSuffix(line, "\r\n"); ok {
		return b, "\r\n"
	}
	if b, ok := strings.CutSuffix(line, "\n"); ok {
		return b, "\n"
	}
	return line, ""
}

// Indent counts a line's leading spaces.
func Indent(line string) int {
	return len(line) - len(strings.TrimLeft(line, " "))
}

// ByteOffset converts a 1-based column as yaml.v3 counts it (in
// characters) into a byte offset in line, or -1 when the line is shorter.
func ByteOffset(line string, column int) int {
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

// Text is a YAML file as lines, for edits that keep every byte they do
// not change. Its methods do not modify it: they return Edits, which
// Apply writes.
type Text struct {
	// Lines are the file's lines, each with its ending (see Lines).
	Lines []string
	// EOL is the line ending most lines use, "\r\n" or "\n": the one
	// added lines get.
	EOL string
	// oddBreak is the line (1-based) of the first line break other than
	// "\n" and "\r\n", 0 when there is none.
	oddBreak int
}

// NewText splits data into a Text.
func NewText(data []byte) *Text {
	t := &Text{Lines: Lines(data), EOL: "\n"}
	crlf := 0
	for _, l := range t.Lines {
		if strings.HasSuffix(l, "\r\n") {
			crlf++
		}
	}
	if crlf > 0 && crlf*2 >= len(t.Lines) {
		t.EOL = "\r\n"
	}
	for i, l := range t.Lines {
		body, _ := CutEOL(l)
		if strings.ContainsAny(body, "\r\u0085\u2028\u2029") {
			t.oddBreak = i + 1
			break
		}
	}
	return t
}

// CheckBreaks returns an *EditError when the text has a line break other
// than "\n" and "\r\n": a lone "\r", NEL, LS or PS, which yaml.v3 counts
// as a new line and Lines does not, so that the positions the parser
// reports would not be the Text's. SetValue, ReplaceScalar and
// AddToFlowMapping refuse such a text; an editor that computes positions
// itself (with EntryEnd, SetLine, InsertAfter) checks first.
func (t *Text) CheckBreaks() error {
	if t.oddBreak > 0 {
		return &EditError{t.oddBreak, `a line break other than \n or \r\n (a lone carriage return, NEL, LS or PS): save the file with \n or \r\n line endings`}
	}
	return nil
}

// Line returns line n (1-based, as yaml.v3 counts) without its ending,
// and the ending; "", "" when there is no such line.
func (t *Text) Line(n int) (body, eol string) {
	if n < 1 || n > len(t.Lines) {
		return "", ""
	}
	return CutEOL(t.Lines[n-1])
}

// Edit replaces Lines[Start:End] (0-based, End exclusive) of a Text with
// Repl, whose lines carry their endings; Start == End inserts before
// line Start.
type Edit struct {
	Start, End int
	Repl       []string
}

// EditError is an edit a Text refuses because the text at Line (1-based)
// is not laid out as the edit needs.
type EditError struct {
	Line int
	Msg  string
}

func (e *EditError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Apply returns the text with the edits made, each against the original
// lines: edits at the same place apply in the order given. Edits must
// not overlap. A last line without an ending gets t.EOL when lines are
// added after it.
func (t *Text) Apply(edits ...Edit) ([]byte, error) {
	edits = slices.Clone(edits)
	slices.SortStableFunc(edits, func(a, b Edit) int { return a.Start - b.Start })
	var out bytes.Buffer
	pos := 0
	for _, e := range edits {
		if e.Start < pos || e.End < e.Start || e.End > len(t.Lines) {
			return nil, fmt.Errorf("overlapping or out-of-range edit of lines %d-%d", e.Start+1, e.End)
		}
		for _, l := range t.Lines[pos:e.Start] {
			out.WriteString(l)
		}
		if len(e.Repl) > 0 && out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			out.WriteString(t.EOL)
		}
		for _, l := range e.Repl {
			out.WriteString(l)
		}
		pos = e.End
	}
	rest := t.Lines[pos:]
	if len(rest) > 0 && out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		out.WriteString(t.EOL)
	}
	for _, l := range rest {
		out.WriteString(l)
	}
	return out.Bytes(), nil
}

// SetLine returns the edit that makes the text of line n (1-based, which
// must exist) body, keeping its ending.
func (t *Text) SetLine(n int, body string) Edit {
	_, eol := CutEOL(t.Lines[n-1])
	return Edit{n - 1, n, []string{body + eol}}
}

// InsertAfter returns the edit that adds the line body after line n
// (1-based; 0 inserts at the top).
func (t *Text) InsertAfter(n int, body string) Edit {
	return Edit{n, n, []string{body + t.EOL}}
}

// EntryEnd returns the index (0-based) of the last line of the mapping
// entry whose key is on line index keyIdx at the given indentation: the
// last following line that is indented deeper (or, for a sequence value,
// a "- " item at the same indentation), skipping blank lines and
// comments, which stay outside the entry when they come last.
func (t *Text) EntryEnd(keyIdx, indent int, seqValue bool) int {
	end := keyIdx
	for i := keyIdx + 1; i < len(t.Lines); i++ {
		body, _ := CutEOL(t.Lines[i])
		s := strings.TrimLeft(body, " ")
		if strings.TrimSpace(s) == "" || strings.HasPrefix(s, "#") {
			continue
		}
		ind := len(body) - len(s)
		if ind > indent || (seqValue && ind == indent && (s == "-" || strings.HasPrefix(s, "- "))) {
			end = i
			continue
		}
		break
	}
	return end
}

// scalarSpan returns the byte span of the scalar n on its line, body,
// when n is a one-line scalar whose source text there means n (the same
// value and tag); flow is whether n is inside a flow collection.
func scalarSpan(body string, n *yaml.Node, flow bool) (off, end int, ok bool) {
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 || n.Anchor != "" {
		return 0, 0, false
	}
	off = ByteOffset(body, n.Column)
	end = ScalarEnd(body, off, flow)
	if end <= off || !tokenMeans(body[off:end], n) {
		return 0, 0, false
	}
	return off, end, true
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

// ReplaceScalar returns the edit that replaces the one-line scalar n (a
// value in a block mapping, or in a flow collection when flow) with the
// YAML text repl, keeping the rest of its line: a comment, the rest of a
// flow mapping. A value that is not a plain or quoted scalar on one line
// is an *EditError, as is a text CheckBreaks refuses.
func (t *Text) ReplaceScalar(n *yaml.Node, flow bool, repl string) (Edit, error) {
	if err := t.CheckBreaks(); err != nil {
		return Edit{}, err
	}
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 || n.Anchor != "" {
		return Edit{}, &EditError{n.Line, "the value is not a simple scalar"}
	}
	body, _ := t.Line(n.Line)
	off, end, ok := scalarSpan(body, n, flow)
	if !ok {
		return Edit{}, &EditError{n.Line, "the value does not fit on its line"}
	}
	return t.SetLine(n.Line, body[:off]+repl+body[end:]), nil
}

// SetValue returns the edit that makes the value of the block mapping
// entry k: v the YAML text text. A scalar on the key's line is replaced
// in place, keeping what follows it (a comment); any other value is
// replaced with the entry's lines, as "KEY: text". A key not where the
// parser put it is an *EditError, as is a text CheckBreaks refuses.
func (t *Text) SetValue(k, v *yaml.Node, text string) (Edit, error) {
	if err := t.CheckBreaks(); err != nil {
		return Edit{}, err
	}
	ki := k.Line - 1
	if ki < 0 || ki >= len(t.Lines) {
		return Edit{}, &EditError{k.Line, "the key is beyond the end of the text"}
	}
	body, eol := CutEOL(t.Lines[ki])
	koff := ByteOffset(body, k.Column)
	if koff < 0 || !strings.HasPrefix(strings.TrimLeft(body[koff:], `"'`), k.Value) {
		return Edit{}, &EditError{k.Line, fmt.Sprintf("key %s is not where the parser put it", k.Value)}
	}
	end := t.EntryEnd(ki, k.Column-1, v.Kind == yaml.SequenceNode)
	if v.Line == k.Line && end == ki && !(v.Tag == "!!null" && v.Value == "") {
		if off, e, ok := scalarSpan(body, v, false); ok && off > koff {
			return Edit{ki, ki + 1, []string{body[:off] + text + body[e:] + eol}}, nil
		}
	}
	if eol == "" {
		eol = t.EOL
	}
	return Edit{ki, end + 1, []string{body[:koff] + k.Value + ": " + text + eol}}, nil
}

// AddToFlowMapping returns the edit that adds entry ("key: value") as the
// last entry of the flow mapping m, before its closing brace and after a
// comma. A mapping not where the parser put it, or not closed, is an
// *EditError, as is a text CheckBreaks refuses.
func (t *Text) AddToFlowMapping(m *yaml.Node, entry string) (Edit, error) {
	if err := t.CheckBreaks(); err != nil {
		return Edit{}, err
	}
	data := strings.Join(t.Lines, "")
	start := t.offset(m.Line, m.Column)
	if start < 0 || start >= len(data) || data[start] != '{' {
		return Edit{}, &EditError{m.Line, "the flow mapping is not where the parser put it"}
	}
	end := flowEnd(data, start)
	if end < 0 {
		return Edit{}, &EditError{m.Line, "the flow mapping has no closing brace"}
	}
	last := len(strings.TrimRight(data[:end], " \t\r\n"))
	ins := ", " + entry
	switch data[last-1] {
	case '{':
		ins = entry
	case ',':
		ins = " " + entry
	}
	// last is just after a character of the mapping's text: find its line.
	lineStart := 0
	for i, l := range t.Lines {
		body, eol := CutEOL(l)
		if last <= lineStart+len(body) {
			off := last - lineStart
			return Edit{i, i + 1, []string{body[:off] + ins + body[off:] + eol}}, nil
		}
		lineStart += len(l)
	}
	return Edit{}, &EditError{m.Line, "the flow mapping has no closing brace"}
}

// offset converts a 1-based line and column (as yaml.v3 counts them, in
// characters) into a byte offset in the whole text, or -1.
func (t *Text) offset(line, column int) int {
	if line < 1 || line > len(t.Lines) {
		return -1
	}
	off := 0
	for _, l := range t.Lines[:line-1] {
		off += len(l)
	}
	body, _ := CutEOL(t.Lines[line-1])
	c := ByteOffset(body, column)
	if c < 0 {
		return -1
	}
	return off + c
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

package apt

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
)

// Field is one field of a control-file paragraph. Value has the first
// line's text after the colon, trimmed; a folded or multiline field's
// continuation lines follow, each after a "\n", with their leading
// whitespace removed (a line of a single "." stays ".").
type Field struct {
	Name, Value string
}

// Paragraph is one stanza of a deb822 control file (a Packages entry, a
// Release file, a dpkg status entry), fields in file order.
type Paragraph []Field

// Get returns the value of the named field (names compare
// case-insensitively, as in deb822), or "".
func (p Paragraph) Get(name string) string {
	v, _ := p.Lookup(name)
	return v
}

// Lookup returns the value of the named field and whether it is present.
func (p Paragraph) Lookup(name string) (string, bool) {
	for _, f := range p {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// maxLine bounds one line of a control file; Packages entries are short,
// but a Description or a Release file's file list line can be long.
const maxLine = 4 << 20

// ControlReader reads deb822 paragraphs one at a time.
type ControlReader struct {
	sc   *bufio.Scanner
	line int
	what string
	// keep, when set, selects the fields a paragraph holds; the others
	// are checked for form and skipped without a copy.
	keep func(name []byte) bool
}

// NewControlReader returns a reader of the paragraphs in r.
func NewControlReader(r io.Reader) *ControlReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	return &ControlReader{sc: sc, what: "control file"}
}

// Next returns the next paragraph, or io.EOF after the last. Blank lines
// (empty or whitespace only) separate paragraphs; lines starting with "#"
// are comments; a line starting with a space or tab continues the field
// before it. Field names are kept as written; a repeated field is an
// error, as in dpkg.
func (c *ControlReader) Next() (Paragraph, error) {
	var p Paragraph
	started := false // a field was read, kept or not
	kept := false    // the last field read was kept
	for c.sc.Scan() {
		c.line++
		line := bytes.TrimSuffix(c.sc.Bytes(), []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			if started {
				return p, nil
			}
			continue
		}
		if line[0] == '#' {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !started {
				return nil, c.errorf(string(line), "continuation line before any field")
			}
			if kept {
				p[len(p)-1].Value += "\n" + string(bytes.TrimSpace(line))
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			return nil, c.errorf(string(line), "not a field")
		}
		started = true
		if kept = c.keep == nil || c.keep(name); !kept {
			continue
		}
		if _, dup := p.Lookup(string(name)); dup {
			return nil, c.errorf(string(line), "field "+string(name)+" repeated")
		}
		p = append(p, Field{Name: string(name), Value: string(bytes.TrimSpace(value))})
	}
	if err := c.sc.Err(); err != nil {
		return nil, err
	}
	if started {
		return p, nil
	}
	return nil, io.EOF
}

func (c *ControlReader) errorf(line, msg string) error {
	return syntaxError(c.what, line, "line "+strconv.Itoa(c.line)+": "+msg)
}

// ParseControl reads every paragraph of a deb822 control file.
func ParseControl(r io.Reader) ([]Paragraph, error) {
	c := NewControlReader(r)
	var out []Paragraph
	for {
		p, err := c.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
}

// lines splits a multiline field value into its non-empty lines.
func lines(v string) []string {
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

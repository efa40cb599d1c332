package yamltext

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DecodeOne parses data as at most one YAML document and returns its
// document node (nil for an empty stream). yaml.v3 has panicked on
// malformed input; a reader of users' files must not, so a panic becomes an
// error. A second document is an error naming its line.
func DecodeOne(data []byte) (doc *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var d yaml.Node
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, err
	default:
		return nil, &SecondDocumentError{Line: max(extra.Line, 1)}
	}
	return &d, nil
}

// SecondDocumentError is DecodeOne's error for input holding more than one
// YAML document: Line is where the second starts.
type SecondDocumentError struct{ Line int }

func (e *SecondDocumentError) Error() string {
	return fmt.Sprintf("yaml: line %d: a second YAML document; this file holds one", e.Line)
}

// ScalarEnd returns the byte offset just past the scalar token starting at
// off in line (a line without its ending), or -1 when the token does not end
// on this line. A quoted scalar ends at its closing quote; a plain scalar
// ends before a " #" comment and, in flow context (flow true), before ",",
// "}" or "]", with trailing blanks left out.
func ScalarEnd(line string, off int, flow bool) int {
	if off < 0 || off >= len(line) {
		return -1
	}
	switch line[off] {
	case '"':
		for i := off + 1; i < len(line); i++ {
			switch line[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return -1
	case '\'':
		for i := off + 1; i < len(line); i++ {
			if line[i] == '\'' {
				if i+1 < len(line) && line[i+1] == '\'' {
					i++
					continue
				}
				return i + 1
			}
		}
		return -1
	}
	end := len(line)
	for i := off + 1; i < len(line); i++ {
		if line[i] == '#' && (line[i-1] == ' ' || line[i-1] == '\t') {
			end = i
			break
		}
		if flow && (line[i] == ',' || line[i] == '}' || line[i] == ']') {
			end = i
			break
		}
	}
	return off + len(strings.TrimRight(line[off:end], " \t"))
}

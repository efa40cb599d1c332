package yamltext

import (
	"fmt"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Root returns a document's content node, or nil when it has none.
func Root(doc *yaml.Node) *yaml.Node {
	if doc == nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// Lookup returns the key and value nodes of the first entry named key in
// the mapping m, or nils (also when m is not a mapping).
func Lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
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

// Resolve follows aliases to the node they name; nil for a chain of more
// than 100 aliases.
func Resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// IsString reports whether n is the YAML string s (not a boolean or a
// number that prints the same).
func IsString(n *yaml.Node, s string) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && n.Value == s
}

// IsFlow reports whether n is a flow collection ({...} or [...]).
func IsFlow(n *yaml.Node) bool { return n != nil && n.Style&yaml.FlowStyle != 0 }

// Describe names a node for messages: "a mapping", "a list", "an alias",
// "empty", or a scalar's value quoted.
func Describe(n *yaml.Node) string {
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

// DecodeAny parses data into plain values (maps, slices, scalars), for
// comparing a file before and after an edit; a parser panic becomes an
// error.
func DecodeAny(data []byte) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	err = yaml.Unmarshal(data, &v)
	return v, err
}

// errLine finds the line in a yaml.v3 error message.
var errLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are yaml.v3 parser (not scanner) messages, whose line
// yaml.v3 reports 0-based; for those marked true it is moreover the line
// where the enclosing list or mapping starts.
var parserProblems = map[string]bool{
	"did not find expected ',' or '}'":       true,
	"did not find expected ',' or ']'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"found undefined tag handle":             true,
	"did not find expected node content":     false,
	"did not find expected <document start>": false,
	"did not find expected <stream-start>":   false,
}

// ErrorLine splits a yaml.v3 error into the 1-based line a user should
// look at (0 when unknown) and a message starting "yaml: ".
func ErrorLine(err error) (int, string) {
	msg := err.Error()
	m := errLine.FindStringSubmatch(msg)
	if m == nil {
		return 0, msg
	}
	line, _ := strconv.Atoi(m[1])
	problem := m[2]
	if inContext, ok := parserProblems[problem]; ok {
		line++
		if inContext {
			problem += " in the list or mapping that starts here"
		}
	}
	return line, "yaml: " + problem
}

// FileError formats a yaml.v3 error of the file name as
// "NAME:LINE: yaml: ..." (or "NAME: ..." without a line).
func FileError(name string, err error) error {
	line, msg := ErrorLine(err)
	if line > 0 {
		return fmt.Errorf("%s:%d: %s", name, line, msg)
	}
	return fmt.Errorf("%s: %s", name, msg)
}

package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/paimirror/paimirror/manifests/yamltext"
	"go.yaml.in/yaml/v3"
)

// Parse reads a manifest from data and validates it. source names where data
// came from (a file name, or "embedded:NAME") and prefixes every error.
//
// Parsing is strict: an unknown key, a value of the wrong kind or a repeated
// key is an error. A group's default is true when absent. Every problem found
// is reported, each with its line and field, in one *ValidationError; a YAML
// syntax error is reported the same way. The returned manifest has Source,
// Raw (a copy of data) and every Image's and File's Line set.
func Parse(source string, data []byte) (*Manifest, error) {
	p := &parser{source: source, lines: map[string]int{}, budget: nodeBudget(len(data))}
	root, err := decodeNode(data)
	if err != nil {
		return nil, &ValidationError{Errors: []FieldError{p.syntaxError(err)}}
	}
	m := &Manifest{Source: source, Raw: bytes.Clone(data)}
	p.manifest(root, m)
	p.lines[""] = root.Line
	m.lines = p.lines
	errs := p.errs
	// Validate what could be read, leaving out the fields that could not:
	// they would only repeat a structural error as "required".
	for _, fe := range m.validate() {
		if !p.isBad(fe.Field) {
			errs = append(errs, fe)
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		if len(errs) > maxErrors {
			errs = append(errs[:maxErrors:maxErrors], FieldError{Source: source, Msg: fmt.Sprintf("too many problems; only the first %d are shown", maxErrors)})
		}
		return nil, &ValidationError{Errors: errs}
	}
	return m, nil
}

// Load reads and parses the manifest file at path.
func Load(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("manifest %s does not exist (to start from the built-in %s, write it there with \"paimirror manifest > %s\" and edit it; to build the built-in one as it is, give no manifest file): %w",
			path, DefaultName, path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	return Parse(path, data)
}

// nodeBudget is how many nodes Parse visits at most for size bytes of input.
func nodeBudget(size int) int { return max(10000, 2*size) }

// maxErrors caps the problems Parse reports.
const maxErrors = 100

// errEmpty reports a document with no content.
var errEmpty = errors.New("manifest is empty")

// decodeNode parses data as exactly one YAML document and returns its root
// node, which is never an alias.
func decodeNode(data []byte) (*yaml.Node, error) {
	doc, err := yamltext.DecodeOne(data)
	var second *yamltext.SecondDocumentError
	switch {
	case errors.As(err, &second):
		return nil, fmt.Errorf("yaml: line %d: a manifest is one YAML document; this is a second one", second.Line)
	case err != nil:
		return nil, err
	case doc == nil:
		return nil, errEmpty
	}
	n := doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, errEmpty
		}
		n = n.Content[0]
	}
	n = resolve(n)
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil, errEmpty
	}
	return n, nil
}

// yamlLine finds the line in yaml.v3's error messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlParserProblems are the messages of yaml.v3's parser (as opposed to
// its scanner). yaml.v3 reports their line 0-based, and for the ones in a
// context, the line where the enclosing list or mapping starts rather than
// the line of the problem.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or '}'":       true, // context
	"did not find expected ',' or ']'":       true, // context
	"did not find expected '-' indicator":    true, // context
	"did not find expected key":              true, // context
	"found undefined tag handle":             true, // context
	"did not find expected node content":     false,
	"did not find expected <document start>": false,
	"did not find expected <stream-start>":   false,
	"found duplicate %YAML directive":        false,
	"found incompatible YAML document":       false,
	"found duplicate %TAG directive":         false,
}

// syntaxError turns a YAML error into a FieldError carrying its line.
func (p *parser) syntaxError(err error) FieldError {
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		problem := m[2]
		if inContext, ok := yamlParserProblems[problem]; ok {
			line++
			if inContext {
				problem += " in the list or mapping that starts here"
			}
		}
		msg = "yaml: " + problem
	}
	return FieldError{Source: p.source, Line: line, Msg: msg}
}

// resolve follows YAML aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// parser walks the YAML node tree into a Manifest, collecting structural
// errors and remembering the line of every field.
type parser struct {
	source string
	errs   []FieldError
	lines  map[string]int
	bad    map[string]bool // fields with structural errors
	budget int             // nodes left to visit; see spend
}

// spend counts one node visited and reports whether the walk may go on. A
// document's own nodes are fewer than its bytes, so the budget is only
// exhausted by aliases expanding a small document into a huge one.
func (p *parser) spend(line int) bool {
	p.budget--
	if p.budget == -1 {
		p.errorf(line, "", "the document expands through YAML aliases to too many nodes")
	}
	return p.budget >= 0
}

func (p *parser) errorf(line int, field, format string, args ...any) {
	p.errs = append(p.errs, FieldError{Source: p.source, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	if p.bad == nil {
		p.bad = map[string]bool{}
	}
	p.bad[field] = true
}

// isBad reports whether field is, or is inside, a field that had a
// structural error.
func (p *parser) isBad(field string) bool {
	if p.bad[field] || p.bad[""] {
		return true
	}
	for i := len(field) - 1; i > 0; i-- {
		if (field[i] == '.' || field[i] == '[') && p.bad[field[:i]] {
			return true
		}
	}
	return false
}

// kindName describes a node's kind for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "a scalar"
	default:
		return "an unexpected YAML node"
	}
}

// fields walks a mapping node, calling set for every key in known and
// reporting unknown, repeated and non-string keys. It reports false when n
// is not a mapping.
func (p *parser) fields(n *yaml.Node, field string, known []string, set func(key string, v *yaml.Node, field string)) bool {
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, field, "must be a mapping, not %s", kindName(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !p.spend(n.Content[i].Line) {
			return false
		}
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		kline := n.Content[i].Line
		if k == nil || k.Kind != yaml.ScalarNode {
			p.errorf(kline, field, "keys must be strings")
			continue
		}
		sub := k.Value
		if field != "" {
			sub = field + "." + k.Value
		}
		if v == nil {
			p.errorf(kline, sub, "alias names nothing")
			continue
		}
		if k.Value == "<<" {
			p.errorf(kline, field, "merge keys (<<) are not supported")
			continue
		}
		if !slices.Contains(known, k.Value) {
			p.errorf(kline, sub, "unknown field (known fields: %s)", strings.Join(known, ", "))
			continue
		}
		if seen[k.Value] {
			p.errorf(kline, sub, "repeated; each field may appear once")
			continue
		}
		seen[k.Value] = true
		p.lines[sub] = v.Line
		set(k.Value, v, sub)
	}
	return true
}

// The known keys of each mapping, in the order they are documented.
var (
	manifestKeys = []string{"name", "description", "groups", "images", "files", "python", "apt"}
	groupKeys    = []string{"name", "description", "default"}
	imageKeys    = []string{"ref", "digest", "platforms", "aliases", "groups"}
	fileKeys     = []string{"name", "url", "alternates", "sha256", "no_checksum", "paths", "groups"}
	pythonKeys   = []string{"index", "simple", "targets", "installs", "groups"}
	targetKeys   = []string{"name", "python", "python_full", "platform", "glibc"}
	installKeys  = []string{"name", "requirements"}
	aptKeys      = []string{"name", "target", "url", "flat", "suites", "components", "architectures", "key", "packages", "sources", "groups"}
	aptKeyKeys   = []string{"url", "fingerprint"}
)

// str reads a scalar as a string; null reads as "".
func (p *parser) str(n *yaml.Node, field string) string {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n.Line, field, "must be a string, not %s", kindName(n))
		return ""
	}
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// boolean reads a YAML boolean.
func (p *parser) boolean(n *yaml.Node, field string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		p.errorf(n.Line, field, "must be true or false")
		return false
	}
	return b
}

// strs reads a list of strings; null reads as an empty list.
func (p *parser) strs(n *yaml.Node, field string) []string {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n.Line, field, "must be a list of strings, not %s", kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		if !p.spend(c.Line) {
			return out
		}
		sub := fmt.Sprintf("%s[%d]", field, i)
		line := c.Line
		c = resolve(c)
		if c == nil {
			p.errorf(line, sub, "alias names nothing")
			continue
		}
		p.lines[sub] = line
		out = append(out, p.str(c, sub))
	}
	return out
}

// items walks a list of mappings, calling each for every element.
func (p *parser) items(n *yaml.Node, field string, each func(i int, item *yaml.Node, field string)) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n.Line, field, "must be a list, not %s", kindName(n))
		return
	}
	for i, c := range n.Content {
		if !p.spend(c.Line) {
			return
		}
		sub := fmt.Sprintf("%s[%d]", field, i)
		line := c.Line
		c = resolve(c)
		if c == nil {
			p.errorf(line, sub, "alias names nothing")
			continue
		}
		p.lines[sub] = line
		each(i, c, sub)
	}
}

func (p *parser) manifest(n *yaml.Node, m *Manifest) {
	p.fields(n, "", manifestKeys, func(key string, v *yaml.Node, field string) {
		switch key {
		case "name":
			m.Name = p.str(v, field)
		case "description":
			m.Description = p.str(v, field)
		case "groups":
			p.items(v, field, func(_ int, item *yaml.Node, field string) {
				g := Group{Default: true}
				p.fields(item, field, groupKeys, func(key string, v *yaml.Node, field string) {
					switch key {
					case "name":
						g.Name = p.str(v, field)
					case "description":
						g.Description = p.str(v, field)
					case "default":
						g.Default = p.boolean(v, field)
					}
				})
				m.Groups = append(m.Groups, g)
			})
		case "images":
			p.items(v, field, func(_ int, item *yaml.Node, field string) {
				img := Image{Line: p.lines[field]}
				p.fields(item, field, imageKeys, func(key string, v *yaml.Node, field string) {
					switch key {
					case "ref":
						img.Ref = p.str(v, field)
					case "digest":
						img.Digest = p.str(v, field)
					case "platforms":
						img.Platforms = p.strs(v, field)
					case "aliases":
						img.Aliases = p.strs(v, field)
					case "groups":
						img.Groups = p.strs(v, field)
					}
				})
				m.Images = append(m.Images, img)
			})
		case "files":
			p.items(v, field, func(_ int, item *yaml.Node, field string) {
				f := File{Line: p.lines[field]}
				p.fields(item, field, fileKeys, func(key string, v *yaml.Node, field string) {
					switch key {
					case "name":
						f.Name = p.str(v, field)
					case "url":
						f.URL = p.str(v, field)
					case "alternates":
						f.Alternates = p.strs(v, field)
					case "sha256":
						f.SHA256 = p.str(v, field)
					case "no_checksum":
						f.NoChecksum = p.str(v, field)
					case "paths":
						f.Paths = p.strs(v, field)
					case "groups":
						f.Groups = p.strs(v, field)
					}
				})
				m.Files = append(m.Files, f)
			})
		case "python":
			m.Python = p.python(v, field)
		case "apt":
			p.items(v, field, func(_ int, item *yaml.Node, field string) {
				m.Apt = append(m.Apt, p.apt(item, field))
			})
		}
	})
}

func (p *parser) apt(n *yaml.Node, field string) Apt {
	a := Apt{Line: p.lines[field], Sources: true}
	p.fields(n, field, aptKeys, func(key string, v *yaml.Node, field string) {
		switch key {
		case "name":
			a.Name = p.str(v, field)
		case "target":
			a.Target = p.str(v, field)
		case "url":
			a.URL = p.str(v, field)
		case "flat":
			a.Flat = p.boolean(v, field)
		case "suites":
			a.Suites = p.strs(v, field)
		case "components":
			a.Components = p.strs(v, field)
		case "architectures":
			a.Architectures = p.strs(v, field)
		case "packages":
			a.Packages = p.strs(v, field)
		case "sources":
			a.Sources = p.boolean(v, field)
		case "groups":
			a.Groups = p.strs(v, field)
		case "key":
			p.fields(v, field, aptKeyKeys, func(key string, v *yaml.Node, field string) {
				switch key {
				case "url":
					a.Key.URL = p.str(v, field)
				case "fingerprint":
					a.Key.Fingerprint = p.str(v, field)
				}
			})
		}
	})
	return a
}

func (p *parser) python(n *yaml.Node, field string) *Python {
	py := &Python{Line: p.lines[field]}
	p.fields(n, field, pythonKeys, func(key string, v *yaml.Node, field string) {
		switch key {
		case "index":
			py.Index = p.str(v, field)
		case "simple":
			py.Simple = p.str(v, field)
		case "groups":
			py.Groups = p.strs(v, field)
		case "targets":
			p.items(v, field, func(_ int, item *yaml.Node, field string) {
				t := PythonTarget{Line: p.lines[field]}
				p.fields(item, field, targetKeys, func(key string, v *yaml.Node, field string) {
					switch key {
					case "name":
						t.Name = p.str(v, field)
					case "python":
						t.Python = p.str(v, field)
					case "python_full":
						t.PythonFull = p.str(v, field)
					case "platform":
						t.Platform = p.str(v, field)
					case "glibc":
						t.Glibc = p.str(v, field)
					}
				})
				py.Targets = append(py.Targets, t)
			})
		case "installs":
			p.items(v, field, func(_ int, item *yaml.Node, field string) {
				in := PythonInstall{Line: p.lines[field]}
				p.fields(item, field, installKeys, func(key string, v *yaml.Node, field string) {
					switch key {
					case "name":
						in.Name = p.str(v, field)
					case "requirements":
						in.Requirements = p.strs(v, field)
					}
				})
				py.Installs = append(py.Installs, in)
			})
		}
	})
	return py
}

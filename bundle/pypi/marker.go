package pypi

import (
	"fmt"
	"strconv"
	"strings"
)

// Marker is a parsed PEP 508 environment marker such as
// `python_version < "3.7" and (sys_platform == "linux" or extra == "ssh")`.
// The zero Marker (no marker) is always true.
type Marker struct {
	root *markerNode
}

type markerNode struct {
	// and/or node: op is "and" or "or", with left and right.
	op          string
	left, right *markerNode
	// comparison leaf: op is a comparison operator.
	lhs, rhs markerValue
}

type markerValue struct {
	variable string // set for an environment variable
	literal  string // set for a quoted string
}

func (v markerValue) String() string {
	if v.variable != "" {
		return v.variable
	}
	if strings.Contains(v.literal, `"`) {
		return "'" + v.literal + "'"
	}
	return `"` + v.literal + `"`
}

// MarkerVariables are the environment variables a marker may name.
var MarkerVariables = []string{
	"python_version", "python_full_version", "os_name", "sys_platform",
	"platform_release", "platform_system", "platform_version",
	"platform_machine", "platform_python_implementation",
	"implementation_name", "implementation_version", "extra",
}

// legacyMarkerVariables are older spellings still found in metadata.
var legacyMarkerVariables = map[string]string{
	"python_implementation":          "platform_python_implementation",
	"platform.python_implementation": "platform_python_implementation",
	"os.name":                        "os_name",
	"sys.platform":                   "sys_platform",
	"platform.version":               "platform_version",
	"platform.machine":               "platform_machine",
}

// ParseMarker parses a marker expression. The empty string is the zero
// Marker.
func ParseMarker(s string) (Marker, error) {
	if strings.TrimSpace(s) == "" {
		return Marker{}, nil
	}
	p := &markerParser{src: s}
	n, err := p.parseOr(0)
	if err == nil {
		p.skipSpace()
		if p.pos < len(p.src) {
			err = p.errorf("unexpected %q", p.rest())
		}
	}
	if err != nil {
		return Marker{}, err
	}
	return Marker{root: n}, nil
}

// IsZero reports whether m is the empty marker.
func (m Marker) IsZero() bool { return m.root == nil }

// String returns m in normal form, with parentheses only where needed.
func (m Marker) String() string {
	if m.root == nil {
		return ""
	}
	return m.root.string(false)
}

func (n *markerNode) string(inAnd bool) string {
	switch n.op {
	case "and":
		return n.left.string(true) + " and " + n.right.string(true)
	case "or":
		s := n.left.string(false) + " or " + n.right.string(false)
		if inAnd {
			return "(" + s + ")"
		}
		return s
	}
	return n.lhs.String() + " " + n.op + " " + n.rhs.String()
}

// Evaluate reports whether m holds in env. A variable env lacks is "".
func (m Marker) Evaluate(env map[string]string) bool {
	if m.root == nil {
		return true
	}
	return m.root.eval(env)
}

// And returns the marker "(m) and (o)"; either may be zero.
func (m Marker) And(o Marker) Marker {
	switch {
	case m.root == nil:
		return o
	case o.root == nil:
		return m
	}
	return Marker{root: &markerNode{op: "and", left: m.root, right: o.root}}
}

func (n *markerNode) eval(env map[string]string) bool {
	switch n.op {
	case "and":
		return n.left.eval(env) && n.right.eval(env)
	case "or":
		return n.left.eval(env) || n.right.eval(env)
	}
	lhs, rhs := n.lhs.value(env), n.rhs.value(env)
	if n.lhs.variable == "extra" || n.rhs.variable == "extra" {
		// Extras compare by normalised name (PEP 685).
		lhs, rhs = NormalizeName(lhs), NormalizeName(rhs)
	}
	return compareMarker(lhs, n.op, rhs)
}

func (v markerValue) value(env map[string]string) string {
	if v.variable != "" {
		return env[v.variable]
	}
	return v.literal
}

// compareMarker applies op as the packaging library does: as a PEP 440
// version comparison when both sides are versions and "op rhs" is a valid
// specifier, otherwise as a string comparison.
func compareMarker(lhs, op, rhs string) bool {
	switch op {
	case "in":
		return strings.Contains(rhs, lhs)
	case "not in":
		return !strings.Contains(rhs, lhs)
	}
	if sp, err := ParseSpecifier(op + rhs); err == nil {
		if v, err := ParseVersion(lhs); err == nil {
			return sp.Contains(v)
		}
	}
	switch op {
	case "==", "===":
		return lhs == rhs
	case "!=":
		return lhs != rhs
	case "<":
		return lhs < rhs
	case "<=":
		return lhs <= rhs
	case ">":
		return lhs > rhs
	case ">=":
		return lhs >= rhs
	}
	return false // "~=" on non-versions: undefined, so false
}

type markerParser struct {
	src string
	pos int
}

func (p *markerParser) errorf(format string, args ...any) error {
	return &SyntaxError{What: "marker", Input: p.src, Msg: fmt.Sprintf(format, args...) + " at offset " + strconv.Itoa(p.pos)}
}

func (p *markerParser) rest() string {
	r := p.src[p.pos:]
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return r
}

func (p *markerParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

// keyword consumes word when it stands at pos as a whole word.
func (p *markerParser) keyword(word string) bool {
	p.skipSpace()
	if !strings.HasPrefix(p.src[p.pos:], word) {
		return false
	}
	end := p.pos + len(word)
	if end < len(p.src) && isIdentByte(p.src[end]) {
		return false
	}
	p.pos = end
	return true
}

// maxMarkerDepth bounds parenthesis nesting.
const maxMarkerDepth = 64

func (p *markerParser) parseOr(depth int) (*markerNode, error) {
	left, err := p.parseAnd(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		right, err := p.parseAnd(depth)
		if err != nil {
			return nil, err
		}
		left = &markerNode{op: "or", left: left, right: right}
	}
	return left, nil
}

func (p *markerParser) parseAnd(depth int) (*markerNode, error) {
	left, err := p.parseExpr(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		right, err := p.parseExpr(depth)
		if err != nil {
			return nil, err
		}
		left = &markerNode{op: "and", left: left, right: right}
	}
	return left, nil
}

func (p *markerParser) parseExpr(depth int) (*markerNode, error) {
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '(' {
		if depth >= maxMarkerDepth {
			return nil, p.errorf("parentheses nested too deep")
		}
		p.pos++
		n, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, p.errorf("want )")
		}
		p.pos++
		return n, nil
	}
	lhs, err := p.parseValue()
	if err != nil {
		return nil, err
	}
	op, err := p.parseOp()
	if err != nil {
		return nil, err
	}
	rhs, err := p.parseValue()
	if err != nil {
		return nil, err
	}
	if lhs.variable == "" && rhs.variable == "" {
		return nil, p.errorf("a comparison needs an environment variable on one side")
	}
	return &markerNode{op: op, lhs: lhs, rhs: rhs}, nil
}

func (p *markerParser) parseValue() (markerValue, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return markerValue{}, p.errorf("want a variable or a quoted string")
	}
	if q := p.src[p.pos]; q == '"' || q == '\'' {
		end := strings.IndexByte(p.src[p.pos+1:], q)
		if end < 0 {
			return markerValue{}, p.errorf("unterminated string")
		}
		s := p.src[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		return markerValue{literal: s}, nil
	}
	start := p.pos
	for p.pos < len(p.src) && (isIdentByte(p.src[p.pos]) || p.src[p.pos] == '.') {
		p.pos++
	}
	word := p.src[start:p.pos]
	if canon, ok := legacyMarkerVariables[word]; ok {
		return markerValue{variable: canon}, nil
	}
	for _, v := range MarkerVariables {
		if word == v {
			return markerValue{variable: v}, nil
		}
	}
	p.pos = start
	if word == "" {
		return markerValue{}, p.errorf("want a variable or a quoted string, got %q", p.rest())
	}
	return markerValue{}, p.errorf("unknown marker variable %q", word)
}

func (p *markerParser) parseOp() (string, error) {
	p.skipSpace()
	for _, op := range []string{"===", "==", "!=", "<=", ">=", "~=", "<", ">"} {
		if strings.HasPrefix(p.src[p.pos:], op) {
			p.pos += len(op)
			return op, nil
		}
	}
	if p.keyword("in") {
		return "in", nil
	}
	save := p.pos
	if p.keyword("not") {
		if p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') && p.keyword("in") {
			return "not in", nil
		}
	}
	p.pos = save
	return "", p.errorf("want a comparison operator")
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

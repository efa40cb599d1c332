package patch

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultTargets are the releases Scan judges Ansible `when:` conditions
// against when ScanOptions.Targets is empty: the Ubuntu releases of a
// default install (the seed guide's 18.04, and 16.04, which pai's
// requirement check names as tested).
var DefaultTargets = []string{"ubuntu-16.04", "ubuntu-18.04"}

// ubuntuCodenames are the codenames of the Ubuntu releases a target may
// name (ansible_distribution_release); another release has none known.
var ubuntuCodenames = map[string]string{
	"14.04": "trusty", "16.04": "xenial", "18.04": "bionic", "20.04": "focal", "22.04": "jammy", "24.04": "noble",
}

var ubuntuVersionRe = regexp.MustCompile(`^[0-9]{2}\.[0-9]{2}$`)

// target is one release's Ansible facts, by the name a condition uses
// (ansible_facts.X and ansible_facts['X'] read as ansible_X,
// ansible_lsb['release'] as ansible_lsb.release).
type target struct {
	name  string // "Ubuntu 18.04"
	facts map[string]string
}

// parseTargets reads "ubuntu-VERSION" targets (the machines' {ID}-{VERSION_ID},
// as the manifest's apt targets), DefaultTargets when there are none.
func parseTargets(names []string) ([]target, error) {
	if len(names) == 0 {
		names = DefaultTargets
	}
	var out []target
	for _, n := range names {
		version, ok := strings.CutPrefix(n, "ubuntu-")
		if !ok || !ubuntuVersionRe.MatchString(version) {
			return nil, fmt.Errorf("%w: target %q: want ubuntu-VERSION, such as ubuntu-18.04 (pai v1.8.0 installs only on Ubuntu)", ErrInvalidOptions, n)
		}
		major, _, _ := strings.Cut(version, ".")
		f := map[string]string{
			"ansible_distribution":               "Ubuntu",
			"ansible_os_family":                  "Debian",
			"ansible_system":                     "Linux",
			"ansible_distribution_version":       version,
			"ansible_distribution_major_version": major,
			"ansible_lsb.id":                     "Ubuntu",
			"ansible_lsb.release":                version,
			"ansible_lsb.major_release":          major,
		}
		if c := ubuntuCodenames[version]; c != "" {
			f["ansible_distribution_release"] = c
			f["ansible_lsb.codename"] = c
		}
		out = append(out, target{name: "Ubuntu " + version, facts: f})
	}
	return out, nil
}

// targetList names the targets for messages: "Ubuntu 16.04 and 18.04".
func targetList(ts []target) string {
	var vs []string
	for _, t := range ts {
		vs = append(vs, strings.TrimPrefix(t.name, "Ubuntu "))
	}
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return "Ubuntu " + vs[0]
	}
	return "Ubuntu " + strings.Join(vs[:len(vs)-1], ", ") + " and " + vs[len(vs)-1]
}

// offByWhen returns, for each of lines (1-based) of a YAML file, why the
// task holding it never runs on any of ts: a `when:` of the task, or of a
// block or play around it, that is false on each of them. A line whose
// conditions are true, or that cannot be judged (other variables, Jinja
// the evaluator does not know, a file that does not parse), is not in the
// result. Cost: one parse of the file.
func offByWhen(data []byte, lines []int, ts []target) map[int]string {
	if len(lines) == 0 || len(ts) == 0 {
		return nil
	}
	var docs []*yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil
		}
		if len(n.Content) > 0 {
			docs = append(docs, n.Content[0])
		}
	}
	out := map[int]string{}
	for _, line := range lines {
		var doc *yaml.Node
		for _, d := range docs {
			if d.Line <= line {
				doc = d
			}
		}
		if doc == nil {
			continue
		}
		var conds []*yaml.Node
		collectWhen(doc, line, 0, &conds)
		if len(conds) == 0 {
			continue
		}
		off := true
		for _, t := range ts {
			r := yes
			for _, c := range conds {
				r = and3(r, evalWhen(c, t.facts))
			}
			off = off && r == no
		}
		if off {
			var texts []string
			for _, c := range conds {
				texts = append(texts, whenText(c))
			}
			out[line] = fmt.Sprintf("its when: (%s) is false on %s, the releases the install targets", strings.Join(texts, "; "), targetList(ts))
		}
	}
	return out
}

// collectWhen appends the `when:` values of n and of the nodes inside it
// that hold line; n spans its lines up to end (exclusive; 0: to the end of
// the document).
func collectWhen(n *yaml.Node, line, end int, out *[]*yaml.Node) {
	holds := func(start, stop int) bool { return start <= line && (stop == 0 || line < stop) }
	switch n.Kind {
	case yaml.SequenceNode:
		for i, c := range n.Content {
			stop := end
			if i+1 < len(n.Content) {
				stop = n.Content[i+1].Line
			}
			if holds(c.Line, stop) {
				collectWhen(c, line, stop, out)
				return
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "when" {
				*out = append(*out, n.Content[i+1])
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			stop := end
			if i+2 < len(n.Content) {
				stop = n.Content[i+2].Line
			}
			if holds(n.Content[i].Line, stop) {
				collectWhen(n.Content[i+1], line, stop, out)
				return
			}
		}
	}
}

// whenText renders a when: value on one line.
func whenText(n *yaml.Node) string {
	if n.Kind == yaml.SequenceNode {
		var parts []string
		for _, c := range n.Content {
			parts = append(parts, whenText(c))
		}
		return strings.Join(parts, " and ")
	}
	return strings.Join(strings.Fields(n.Value), " ")
}

// tri is a three-valued truth: a condition on facts the evaluator does not
// know is unknown.
type tri uint8

const (
	unknown tri = iota
	no
	yes
)

func and3(a, b tri) tri {
	switch {
	case a == no || b == no:
		return no
	case a == yes && b == yes:
		return yes
	}
	return unknown
}

func or3(a, b tri) tri {
	switch {
	case a == yes || b == yes:
		return yes
	case a == no && b == no:
		return no
	}
	return unknown
}

func not3(a tri) tri {
	switch a {
	case yes:
		return no
	case no:
		return yes
	}
	return unknown
}

// evalWhen evaluates a when: value (a boolean, an expression, or a list
// of them, all of which must hold) with facts.
func evalWhen(n *yaml.Node, facts map[string]string) tri {
	switch n.Kind {
	case yaml.SequenceNode:
		r := yes
		for _, c := range n.Content {
			r = and3(r, evalWhen(c, facts))
		}
		return r
	case yaml.ScalarNode:
		if n.Tag == "!!bool" {
			var b bool
			if n.Decode(&b) != nil {
				return unknown
			}
			return truth(b)
		}
		return evalCondition(n.Value, facts)
	}
	return unknown
}

func truth(b bool) tri {
	if b {
		return yes
	}
	return no
}

// evalCondition evaluates one Ansible condition (a Jinja expression) with
// facts. It knows literals, the names in facts, and, or, not, ==, !=, <,
// <=, >, >=, in, not in, the tests version / version_compare, defined and
// undefined, and the filters int, float, lower, upper, string and trim;
// anything else is unknown, and so is everything it touches.
func evalCondition(expr string, facts map[string]string) tri {
	if strings.Contains(expr, "{{") || strings.Contains(expr, "{%") {
		return unknown
	}
	toks, err := tokenize(expr)
	if err != nil {
		return unknown
	}
	p := &condParser{toks: toks, facts: facts}
	v, err := p.or()
	if err != nil || p.pos != len(p.toks) {
		return unknown
	}
	if b, ok := v.(bool); ok {
		return truth(b)
	}
	return unknown
}

type token struct {
	kind byte // 'i' identifier, 's' string, 'n' number, 'o' operator or punctuation
	text string
}

func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			out = append(out, token{'i', s[i:j]})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9') {
				j++
			}
			out = append(out, token{'n', s[i:j]})
			i = j
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					return nil, errors.New("escapes in strings")
				}
				j++
			}
			if j == len(s) {
				return nil, errors.New("unterminated string")
			}
			out = append(out, token{'s', s[i+1 : j]})
			i = j + 1
		default:
			if i+1 < len(s) && slices.Contains([]string{"==", "!=", "<=", ">="}, s[i:i+2]) {
				out = append(out, token{'o', s[i : i+2]})
				i += 2
				continue
			}
			if !strings.ContainsRune("<>()[],.|=", rune(c)) {
				return nil, fmt.Errorf("unexpected %q", c)
			}
			out = append(out, token{'o', string(c)})
			i++
		}
	}
	return out, nil
}

// condParser evaluates as it parses. Values are string, float64, bool,
// []any, or nil for unknown; an error means the expression is beyond it.
type condParser struct {
	toks  []token
	pos   int
	facts map[string]string
}

var errCondition = errors.New("condition not understood")

func (p *condParser) peek(kind byte, text string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind == kind && p.toks[p.pos].text == text
}

func (p *condParser) accept(kind byte, text string) bool {
	if p.peek(kind, text) {
		p.pos++
		return true
	}
	return false
}

func (p *condParser) expect(kind byte, text string) error {
	if !p.accept(kind, text) {
		return errCondition
	}
	return nil
}

// asTri reads a value as a truth.
func asTri(v any) tri {
	if b, ok := v.(bool); ok {
		return truth(b)
	}
	return unknown
}

func fromTri(t tri) any {
	switch t {
	case yes:
		return true
	case no:
		return false
	}
	return nil
}

func (p *condParser) or() (any, error) {
	v, err := p.and()
	for err == nil && p.accept('i', "or") {
		var w any
		if w, err = p.and(); err == nil {
			v = fromTri(or3(asTri(v), asTri(w)))
		}
	}
	return v, err
}

func (p *condParser) and() (any, error) {
	v, err := p.not()
	for err == nil && p.accept('i', "and") {
		var w any
		if w, err = p.not(); err == nil {
			v = fromTri(and3(asTri(v), asTri(w)))
		}
	}
	return v, err
}

func (p *condParser) not() (any, error) {
	if p.accept('i', "not") {
		v, err := p.not()
		return fromTri(not3(asTri(v))), err
	}
	return p.compare()
}

func (p *condParser) compare() (any, error) {
	left, err := p.filtered()
	if err != nil {
		return nil, err
	}
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		switch {
		case t.kind == 'o' && slices.Contains([]string{"==", "!=", "<", "<=", ">", ">="}, t.text):
			p.pos++
			right, err := p.filtered()
			if err != nil {
				return nil, err
			}
			left = compareValues(t.text, left, right)
		case t.kind == 'i' && (t.text == "in" || t.text == "not" && p.pos+1 < len(p.toks) && p.toks[p.pos+1].text == "in"):
			negate := t.text == "not"
			p.pos++
			if negate {
				p.pos++
			}
			right, err := p.filtered()
			if err != nil {
				return nil, err
			}
			r := contains(right, left)
			if negate {
				r = not3(r)
			}
			left = fromTri(r)
		case t.kind == 'i' && t.text == "is":
			p.pos++
			negate := p.accept('i', "not")
			r, err := p.test(left)
			if err != nil {
				return nil, err
			}
			if negate {
				r = not3(r)
			}
			left = fromTri(r)
		default:
			return left, nil
		}
	}
	return left, nil
}

// test evaluates the test after "is" for v.
func (p *condParser) test(v any) (tri, error) {
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != 'i' {
		return unknown, errCondition
	}
	name := p.toks[p.pos].text
	p.pos++
	var args []any
	kwargs := map[string]any{}
	if p.accept('o', "(") {
		for !p.accept('o', ")") {
			if len(args)+len(kwargs) > 0 {
				if err := p.expect('o', ","); err != nil {
					return unknown, err
				}
			}
			if p.pos+1 < len(p.toks) && p.toks[p.pos].kind == 'i' && p.toks[p.pos+1].text == "=" {
				k := p.toks[p.pos].text
				p.pos += 2
				a, err := p.or()
				if err != nil {
					return unknown, err
				}
				kwargs[k] = a
				continue
			}
			a, err := p.or()
			if err != nil {
				return unknown, err
			}
			args = append(args, a)
		}
	}
	switch name {
	case "defined":
		if v != nil {
			return yes, nil
		}
		return unknown, nil
	case "undefined":
		if v != nil {
			return no, nil
		}
		return unknown, nil
	case "version", "version_compare":
		if len(args) == 0 || len(args) > 2 || len(kwargs) > 0 && (len(kwargs) > 1 || kwargs["operator"] == nil) {
			return unknown, nil
		}
		op := any("eq")
		if len(args) == 2 {
			op = args[1]
		} else if o, ok := kwargs["operator"]; ok {
			op = o
		}
		return compareVersions(v, args[0], op), nil
	}
	return unknown, nil
}

func (p *condParser) filtered() (any, error) {
	v, err := p.primary()
	for err == nil && p.accept('o', "|") {
		if p.pos >= len(p.toks) || p.toks[p.pos].kind != 'i' {
			return nil, errCondition
		}
		name := p.toks[p.pos].text
		p.pos++
		if p.peek('o', "(") {
			return nil, errCondition // filters with arguments are beyond it
		}
		v = applyFilter(name, v)
	}
	return v, err
}

func (p *condParser) primary() (any, error) {
	if p.pos >= len(p.toks) {
		return nil, errCondition
	}
	t := p.toks[p.pos]
	p.pos++
	switch t.kind {
	case 's':
		return t.text, nil
	case 'n':
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, errCondition
		}
		return f, nil
	case 'o':
		switch t.text {
		case "(":
			v, err := p.or()
			if err != nil {
				return nil, err
			}
			return v, p.expect('o', ")")
		case "[":
			var list []any
			for !p.accept('o', "]") {
				if len(list) > 0 {
					if err := p.expect('o', ","); err != nil {
						return nil, err
					}
				}
				v, err := p.or()
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			return list, nil
		}
		return nil, errCondition
	}
	switch t.text {
	case "true", "True":
		return true, nil
	case "false", "False":
		return false, nil
	case "and", "or", "not", "in", "is":
		return nil, errCondition
	}
	// A name: NAME(.NAME | ['KEY'])*.
	parts := []string{t.text}
	for {
		if p.accept('o', ".") {
			if p.pos >= len(p.toks) || p.toks[p.pos].kind != 'i' {
				return nil, errCondition
			}
			parts = append(parts, p.toks[p.pos].text)
			p.pos++
			continue
		}
		if p.peek('o', "[") && p.pos+2 < len(p.toks) && p.toks[p.pos+1].kind == 's' && p.toks[p.pos+2].text == "]" {
			parts = append(parts, p.toks[p.pos+1].text)
			p.pos += 3
			continue
		}
		break
	}
	if p.peek('o', "(") || p.peek('o', "[") {
		return nil, errCondition // calls and other subscripts
	}
	if parts[0] == "ansible_facts" && len(parts) > 1 {
		parts = append([]string{"ansible_" + parts[1]}, parts[2:]...)
	}
	if v, ok := p.facts[strings.Join(parts, ".")]; ok {
		return v, nil
	}
	return nil, nil
}

// applyFilter applies a Jinja filter without arguments; nil when v or the
// filter is unknown.
func applyFilter(name string, v any) any {
	switch name {
	case "int", "float":
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case string:
			var err error
			if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
				return nil
			}
		default:
			return nil
		}
		if name == "int" {
			f = float64(int64(f))
		}
		return f
	case "lower", "upper", "trim", "string":
		s, ok := v.(string)
		if !ok {
			return nil
		}
		switch name {
		case "lower":
			s = strings.ToLower(s)
		case "upper":
			s = strings.ToUpper(s)
		case "trim":
			s = strings.TrimSpace(s)
		}
		return s
	}
	return nil
}

// compareValues applies a comparison operator; nil when an operand is
// unknown or the types do not compare.
func compareValues(op string, a, b any) any {
	if a == nil || b == nil {
		return nil
	}
	var c int
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		if !ok {
			if op == "==" || op == "!=" {
				return op == "!="
			}
			return nil
		}
		c = strings.Compare(x, y)
	case float64:
		y, ok := b.(float64)
		if !ok {
			if op == "==" || op == "!=" {
				return op == "!="
			}
			return nil
		}
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	case bool:
		y, ok := b.(bool)
		if !ok || op != "==" && op != "!=" {
			return nil
		}
		return (x == y) == (op == "==")
	default:
		return nil
	}
	return cmpResult(op, c)
}

func cmpResult(op string, c int) any {
	switch op {
	case "==", "eq", "=":
		return c == 0
	case "!=", "ne", "<>":
		return c != 0
	case "<", "lt":
		return c < 0
	case "<=", "le":
		return c <= 0
	case ">", "gt":
		return c > 0
	case ">=", "ge":
		return c >= 0
	}
	return nil
}

// contains is Jinja's `needle in hay` for a list or a string.
func contains(hay, needle any) tri {
	switch h := hay.(type) {
	case []any:
		if needle == nil {
			return unknown
		}
		r := no
		for _, e := range h {
			if e == nil {
				r = unknown
				continue
			}
			if eq, ok := compareValues("==", e, needle).(bool); ok && eq {
				return yes
			}
		}
		return r
	case string:
		n, ok := needle.(string)
		if !ok {
			return unknown
		}
		return truth(strings.Contains(h, n))
	}
	return unknown
}

// compareVersions is Ansible's version test with the loose version type:
// dotted numbers compared part by part. A version with anything but digits
// and dots is unknown.
func compareVersions(v, ref, op any) tri {
	vs, ok1 := versionString(v)
	rs, ok2 := versionString(ref)
	o, ok3 := op.(string)
	if !ok1 || !ok2 || !ok3 {
		return unknown
	}
	a, ok1 := versionParts(vs)
	b, ok2 := versionParts(rs)
	if !ok1 || !ok2 {
		return unknown
	}
	c := 0
	for i := 0; i < max(len(a), len(b)) && c == 0; i++ {
		switch {
		case i >= len(a):
			c = -1
		case i >= len(b):
			c = 1
		case a[i] < b[i]:
			c = -1
		case a[i] > b[i]:
			c = 1
		}
	}
	if r, ok := cmpResult(o, c).(bool); ok {
		return truth(r)
	}
	return unknown
}

func versionString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

func versionParts(s string) ([]int, bool) {
	var out []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

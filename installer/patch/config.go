package patch

import (
	"fmt"
	"slices"
	"strings"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/yamltext"
	"go.yaml.in/yaml/v3"
)

// extraVarKey is the config.yaml key whose entries pai copies into
// kubespray's openpai.yml, each as `key: "value"`.
const extraVarKey = "openpai_kubespray_extra_var"

// imageTagKey is read by quick-start-service.sh with a grep, so no other
// line of config.yaml may contain it.
const imageTagKey = "docker_image_tag"

// noopVars are kubespray variables the seed guide and config.yaml's
// comments suggest, which kubespray 2.11 does not have.
var noopVars = []string{"gcr_image_repo", "quay_image_repo", "docker_image_repo"}

// dockerFlagVars, in config.yaml, become dockerd flags (and, under
// openpai_kubespray_extra_var, kubespray variables that do); dockerd
// refuses to start when a setting is both a flag and in daemon.json, where
// the docker cache step puts the mirror.
var dockerFlagVars = map[string]bool{
	"openpai_docker_registry_mirrors":    true,
	"openpai_docker_insecure_registries": true,
	"docker_registry_mirrors":            true,
	"docker_insecure_registries":         true,
}

// configPatcher computes the config.yaml edit.
type configPatcher struct {
	name  string // for messages
	text  *yamltext.Text
	want  map[string]string
	order []string // want's keys in KubesprayVars order
	// top are top-level keys to set (pai's own settings, not kubespray
	// variables), topOrder their order.
	top      map[string]string
	topOrder []string
	edits    []yamltext.Edit
	warnings []lineWarning
}

// lineWarning is a warning about one line of config.yaml.
type lineWarning struct {
	line int
	msg  string
}

func (p *configPatcher) warnf(line int, format string, args ...any) {
	p.warnings = append(p.warnings, lineWarning{line, fmt.Sprintf(format, args...)})
}

// formatWarnings returns the warnings in line order, each "NAME:LINE: MSG".
func (p *configPatcher) formatWarnings() []string {
	slices.SortStableFunc(p.warnings, func(a, b lineWarning) int { return a.line - b.line })
	out := make([]string, len(p.warnings))
	for i, w := range p.warnings {
		out[i] = fmt.Sprintf("%s:%d: %s", p.name, w.line, w.msg)
	}
	return out
}

// quoted renders s as a YAML double-quoted scalar. Callers pass only text
// without '"', '\\' or control characters (checkMirror sees to that), which
// needs no escapes.
func quoted(s string) string { return `"` + s + `"` }

// patchConfig points config.yaml's openpai_kubespray_extra_var at the
// mirror, editing only the lines it must. It returns the new text (equal
// to data when nothing changes) and warnings, each starting "NAME:LINE: ".
func patchConfig(name string, data []byte, vars []manifests.Var) ([]byte, []string, error) {
	return patchConfigTop(name, data, vars, nil)
}

// patchConfigTop is patchConfig that moreover makes each of top a
// top-level string entry of config.yaml: a key already there gets the
// value in place (keeping a comment after it), a missing one is added
// after config.yaml's commented examples of such keys ("# KEY: ..." at
// the start of a line), or else at the end. Values are written as YAML
// double-quoted strings; the value of a key that names a secret
// (password, token, ...) appears in no warning or error.
func patchConfigTop(name string, data []byte, vars, top []manifests.Var) ([]byte, []string, error) {
	doc, err := yamltext.DecodeOne(data)
	if err != nil {
		return nil, nil, yamltext.FileError(name, err)
	}
	root := yamltext.Root(doc)
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("%s: is not a YAML mapping (user, password, %s, ...)", name, imageTagKey)
	}
	if root.Style&yaml.FlowStyle != 0 {
		return nil, nil, fmt.Errorf("%s: is a flow mapping ({...}); write it one key per line", name)
	}
	p := &configPatcher{name: name, text: yamltext.NewText(data), want: map[string]string{}}
	if err := p.text.CheckBreaks(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, v := range vars {
		p.want[v.Name] = v.Value
		p.order = append(p.order, v.Name)
	}
	if len(top) > 0 {
		p.top = map[string]string{}
	}
	for _, v := range top {
		p.top[v.Name] = v.Value
		p.topOrder = append(p.topOrder, v.Name)
	}

	p.duplicates(root, "")
	var blockKey, block *yaml.Node
	haveTop := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch key := k.Value; {
		case key == extraVarKey:
			blockKey, block = k, v
		case p.top[key] != "":
			haveTop[key] = true
			if err := p.setTop(k, v); err != nil {
				return nil, nil, err
			}
		case p.want[key] != "":
			if err := p.set(k, v, "top-level "+key); err != nil {
				return nil, nil, err
			}
		case slices.Contains(noopVars, key):
			p.warnf(k.Line, "%s does nothing in kubespray 2.11 (left as is)", key)
		case dockerFlagVars[key]:
			p.warnf(k.Line, "%s makes kubespray pass dockerd flags; dockerd refuses to start when a setting is both a flag and in daemon.json, where the docker cache step puts the mirror: remove it", key)
		}
	}
	if err := p.block(blockKey, block); err != nil {
		return nil, nil, err
	}
	var missing []string
	for _, key := range p.topOrder {
		if !haveTop[key] {
			missing = append(missing, key)
		}
	}
	p.insertTop(missing)

	out, err := p.text.Apply(p.edits...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := checkConfig(name, out, p.want, p.top); err != nil {
		return nil, nil, err
	}
	return out, p.formatWarnings(), nil
}

// duplicates warns about keys given twice in mapping m, which PyYAML
// accepts, keeping the last.
func (p *configPatcher) duplicates(m *yaml.Node, prefix string) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if first, ok := seen[k.Value]; ok {
			p.warnf(k.Line, "%s%s is given twice (also on line %d); pai reads only this one", prefix, k.Value, first)
		}
		seen[k.Value] = k.Line
	}
}

// set makes the entry k: v hold the wanted value, warning when it replaces
// another one.
func (p *configPatcher) set(k, v *yaml.Node, what string) error {
	want := p.want[k.Value]
	if v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == want {
		return nil
	}
	e, err := p.text.SetValue(k, v, quoted(want))
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.edits = append(p.edits, e)
	if !(v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
		p.warnf(k.Line, "replaced %s %s with %q", what, yamltext.Describe(v), want)
	}
	return nil
}

// setTop makes the top-level entry k: v hold its wanted value in p.top,
// warning when it replaces another one.
func (p *configPatcher) setTop(k, v *yaml.Node) error {
	want := p.top[k.Value]
	if v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == want {
		return nil
	}
	e, err := p.text.SetValue(k, v, yamlQuote(want))
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.edits = append(p.edits, e)
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
	case secretKey(k.Value):
		p.warnf(k.Line, "replaced top-level %s (values not shown)", k.Value)
	default:
		p.warnf(k.Line, "replaced top-level %s %s with %q", k.Value, yamltext.Describe(v), want)
	}
	return nil
}

// insertTop adds the top-level entries keys of p.top after config.yaml's
// commented examples of them, or else at the end of the file.
func (p *configPatcher) insertTop(keys []string) {
	if len(keys) == 0 {
		return
	}
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + ": " + yamlQuote(p.top[k]) + p.text.EOL
	}
	if at := commentedKeysEnd(p.text.Lines, keys); at >= 0 && p.tryInsert(at, lines, p.top) {
		return
	}
	n := len(p.text.Lines)
	if n > 0 && strings.TrimSpace(p.text.Lines[n-1]) != "" {
		lines = append([]string{p.text.EOL}, lines...)
	}
	// First among edits at the same place: before an added
	// openpai_kubespray_extra_var.
	p.edits = append([]yamltext.Edit{{Start: n, End: n, Repl: lines}}, p.edits...)
}

// commentedKeysEnd finds the first run of lines that start "# KEY:" for
// one of keys, such as config.yaml's
//
//	# docker_registry_domain: docker.io
//	# docker_registry_namespace: openpai
//
// and returns the index of the line after the run, or -1.
func commentedKeysEnd(lines []string, keys []string) int {
	commented := func(l string) bool {
		t, ok := strings.CutPrefix(l, "#")
		if !ok {
			return false
		}
		t = strings.TrimLeft(t, " ")
		for _, k := range keys {
			if strings.HasPrefix(t, k+":") {
				return true
			}
		}
		return false
	}
	for i, l := range lines {
		if !commented(l) {
			continue
		}
		j := i + 1
		for j < len(lines) && commented(lines[j]) {
			j++
		}
		return j
	}
	return -1
}

// block handles openpai_kubespray_extra_var: adds it, or the wanted
// entries it lacks, and corrects the ones it has.
func (p *configPatcher) block(key, block *yaml.Node) error {
	if key == nil {
		p.insertBlock()
		return nil
	}
	keyIndent := key.Column - 1
	switch {
	case block.Kind == yaml.ScalarNode && block.Tag == "!!null" && block.Value == "" && block.Style == 0:
		// "openpai_kubespray_extra_var:" and nothing else: add the entries
		// under the key line.
		indent := strings.Repeat(" ", keyIndent+2)
		end := p.text.EntryEnd(key.Line-1, keyIndent, false)
		p.edits = append(p.edits, yamltext.Edit{Start: end + 1, End: end + 1, Repl: p.render(indent, p.order)})
		return nil
	case block.Kind == yaml.MappingNode && block.Style&yaml.FlowStyle == 0 && len(block.Content) > 0:
		return p.blockMapping(block)
	case block.Kind == yaml.MappingNode || (block.Kind == yaml.ScalarNode && block.Tag == "!!null"):
		return p.rewriteBlock(key, block)
	}
	return fmt.Errorf("%s:%d: %s is %s, not a mapping of kubespray variables", p.name, key.Line, extraVarKey, yamltext.Describe(block))
}

// blockMapping handles a block-style openpai_kubespray_extra_var.
func (p *configPatcher) blockMapping(block *yaml.Node) error {
	p.duplicates(block, extraVarKey+".")
	have := map[string]bool{}
	var last *yaml.Node
	var lastValue *yaml.Node
	for i := 0; i+1 < len(block.Content); i += 2 {
		k, v := block.Content[i], block.Content[i+1]
		last, lastValue = k, v
		name := k.Value
		switch {
		case p.want[name] != "":
			have[name] = true
			if err := p.set(k, v, extraVarKey+"."+name); err != nil {
				return err
			}
		case slices.Contains(noopVars, name):
			p.warnf(k.Line, "%s.%s does nothing in kubespray 2.11 (left as is)", extraVarKey, name)
		case dockerFlagVars[name]:
			p.warnf(k.Line, "%s.%s makes kubespray pass dockerd flags; dockerd refuses to start when a setting is both a flag and in daemon.json, where the docker cache step puts the mirror: remove it", extraVarKey, name)
		default:
			p.checkUserValue(k, v)
		}
	}
	var missing []string
	for _, name := range p.order {
		if !have[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	indent := last.Column - 1
	end := p.text.EntryEnd(last.Line-1, indent, lastValue.Kind == yaml.SequenceNode)
	p.edits = append(p.edits, yamltext.Edit{Start: end + 1, End: end + 1, Repl: p.render(strings.Repeat(" ", indent), missing)})
	return nil
}

// checkUserValue warns about a value of the user's own in
// openpai_kubespray_extra_var that pai does not pass on as written: pai
// writes `key: "value"` with Python's str() of what PyYAML read.
func (p *configPatcher) checkUserValue(k, v *yaml.Node) {
	switch t := pai.PyType(v); t {
	case "str", "int", "float":
	case "bool", "null":
		py := map[string]string{"bool": "True or False", "null": "None"}[t]
		p.warnf(k.Line, "%s.%s: pai writes this value into openpai.yml as the string %s; quote what you mean", extraVarKey, k.Value, py)
	default:
		p.warnf(k.Line, "%s.%s: pai writes every value as a quoted string, so this %s arrives as its Python text", extraVarKey, k.Value, strings.TrimPrefix(yamltext.Describe(v), "a "))
	}
}

// render returns the lines `INDENT NAME: "VALUE"` for names.
func (p *configPatcher) render(indent string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = indent + n + ": " + quoted(p.want[n]) + p.text.EOL
	}
	return out
}

// rewriteBlock replaces a flow-style or explicitly empty
// openpai_kubespray_extra_var with a block mapping: the user's entries
// first, re-encoded one per line, then the wanted ones.
func (p *configPatcher) rewriteBlock(key, block *yaml.Node) error {
	keyIndent := key.Column - 1
	indent := strings.Repeat(" ", keyIndent+2)
	var lines []string
	have := map[string]bool{}
	if block.Kind == yaml.MappingNode {
		p.warnf(key.Line, "rewrote the flow-style %s as one entry per line", extraVarKey)
		for i := 0; i+1 < len(block.Content); i += 2 {
			k, v := block.Content[i], block.Content[i+1]
			name := k.Value
			if want := p.want[name]; want != "" {
				have[name] = true
				if !(v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == want) {
					p.warnf(k.Line, "replaced %s.%s %s with %q", extraVarKey, name, yamltext.Describe(v), want)
				}
				lines = append(lines, p.render(indent, []string{name})...)
				continue
			}
			switch {
			case slices.Contains(noopVars, name):
				p.warnf(k.Line, "%s.%s does nothing in kubespray 2.11 (left as is)", extraVarKey, name)
			case dockerFlagVars[name]:
				p.warnf(k.Line, "%s.%s makes kubespray pass dockerd flags; dockerd refuses to start when a setting is both a flag and in daemon.json, where the docker cache step puts the mirror: remove it", extraVarKey, name)
			default:
				p.checkUserValue(k, v)
			}
			enc, err := encodePair(k, v)
			if err != nil {
				return fmt.Errorf("%s:%d: %s.%s: %w", p.name, k.Line, extraVarKey, name, err)
			}
			for _, l := range enc {
				lines = append(lines, indent+l+p.text.EOL)
			}
		}
	}
	var missing []string
	for _, name := range p.order {
		if !have[name] {
			missing = append(missing, name)
		}
	}
	lines = append(lines, p.render(indent, missing)...)
	ki := key.Line - 1
	if ki < 0 || ki >= len(p.text.Lines) {
		return fmt.Errorf("%s:%d: line out of range", p.name, key.Line)
	}
	body, _ := yamltext.CutEOL(p.text.Lines[ki])
	koff := yamltext.ByteOffset(body, key.Column)
	if koff < 0 {
		return fmt.Errorf("%s:%d: %s is not where the parser put it", p.name, key.Line, extraVarKey)
	}
	end := p.text.EntryEnd(ki, keyIndent, false)
	head := body[:koff] + extraVarKey + ":" + p.text.EOL
	p.edits = append(p.edits, yamltext.Edit{Start: ki, End: end + 1, Repl: append([]string{head}, lines...)})
	return nil
}

// encodePair renders one mapping entry as YAML lines without their endings,
// collections in flow style.
func encodePair(k, v *yaml.Node) ([]string, error) {
	v2 := *v
	if v2.Kind == yaml.MappingNode || v2.Kind == yaml.SequenceNode {
		v2.Style |= yaml.FlowStyle
	}
	k2 := *k
	k2.HeadComment, k2.LineComment, k2.FootComment = "", "", ""
	v2.HeadComment, v2.LineComment, v2.FootComment = "", "", ""
	m := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{&k2, &v2}}
	out, err := yaml.Marshal(m)
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"), nil
}

// insertBlock adds openpai_kubespray_extra_var where config.yaml's own
// commented example of it ends, or else at the end of the file.
func (p *configPatcher) insertBlock() {
	block := append([]string{extraVarKey + ":" + p.text.EOL}, p.render("  ", p.order)...)
	if at := commentedExampleEnd(p.text.Lines); at >= 0 && p.tryInsert(at, block, nil) {
		return
	}
	n := len(p.text.Lines)
	if n > 0 && strings.TrimSpace(p.text.Lines[n-1]) != "" {
		block = append([]string{p.text.EOL}, block...)
	}
	p.edits = append(p.edits, yamltext.Edit{Start: n, End: n, Repl: block})
}

// tryInsert reports whether inserting block before line at keeps the
// file's top-level keys as they were, with the wanted kubespray variables
// and the top-level entries top, and if so adds the edit, first among
// those at the same place.
func (p *configPatcher) tryInsert(at int, block []string, top map[string]string) bool {
	edits := append([]yamltext.Edit{{Start: at, End: at, Repl: block}}, p.edits...)
	out, err := p.text.Apply(edits...)
	if err != nil {
		return false
	}
	if err := checkConfig(p.name, out, p.want, top); err != nil {
		return false
	}
	p.edits = edits
	return true
}

// commentedExampleEnd finds pai's commented example
//
//	# openpai_kubespray_extra_var:
//	#   key: value
//
// at the start of a line and returns the index of the line after it, or -1.
func commentedExampleEnd(lines []string) int {
	for i, l := range lines {
		t := strings.TrimSpace(strings.TrimPrefix(l, "#"))
		if !strings.HasPrefix(l, "#") || t != extraVarKey+":" {
			continue
		}
		j := i + 1
		for j < len(lines) && strings.HasPrefix(lines[j], "#") {
			rest := strings.TrimPrefix(lines[j], "#")
			if len(rest)-len(strings.TrimLeft(rest, " ")) < 2 || strings.TrimSpace(rest) == "" {
				break
			}
			j++
		}
		return j
	}
	return -1
}

// checkConfig checks the patched config.yaml as pai will read it: one YAML
// mapping; every wanted variable a string with the wanted value under
// openpai_kubespray_extra_var (and at top level, if set there); every
// entry of top a top-level string with its value (a secret's value is
// not shown in the error); and one line, the docker_image_tag entry,
// containing "docker_image_tag", whose value quick-start-service.sh's
// grep reads as YAML does.
func checkConfig(name string, data []byte, want, top map[string]string) error {
	doc, err := yamltext.DecodeOne(data)
	if err != nil {
		return fmt.Errorf("the result does not parse: %w", yamltext.FileError(name, err))
	}
	root := yamltext.Root(doc)
	if root == nil || root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: the result is not a mapping", name)
	}
	var block, tag, tagKey *yaml.Node
	gotTop := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case k.Value == extraVarKey:
			block = yamltext.Resolve(v)
		case k.Value == imageTagKey:
			tagKey, tag = k, v
		case top[k.Value] != "":
			gotTop[k.Value] = true
			if v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == top[k.Value] {
				break
			}
			if secretKey(k.Value) {
				return fmt.Errorf("%s:%d: %s does not hold the wanted value (not shown)", name, k.Line, k.Value)
			}
			return fmt.Errorf("%s:%d: %s is %s, not %q", name, k.Line, k.Value, yamltext.Describe(v), top[k.Value])
		case want[k.Value] != "":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || v.Value != want[k.Value] {
				return fmt.Errorf("%s:%d: %s is %s, not %q", name, k.Line, k.Value, yamltext.Describe(v), want[k.Value])
			}
		}
	}
	if block == nil || block.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: the result has no %s mapping", name, extraVarKey)
	}
	got := map[string]int{}
	for i := 0; i+1 < len(block.Content); i += 2 {
		k, v := block.Content[i], block.Content[i+1]
		if w := want[k.Value]; w != "" {
			got[k.Value]++
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || v.Value != w {
				return fmt.Errorf("%s:%d: %s.%s is %s, not %q", name, k.Line, extraVarKey, k.Value, yamltext.Describe(v), w)
			}
		}
	}
	for k := range want {
		if got[k] == 0 {
			return fmt.Errorf("%s: %s.%s is missing from the result", name, extraVarKey, k)
		}
	}
	for k := range top {
		if !gotTop[k] {
			return fmt.Errorf("%s: top-level %s is missing from the result", name, k)
		}
	}
	return checkImageTag(name, data, tagKey, tag)
}

// checkImageTag checks what quick-start-service.sh does with config.yaml:
//
//	grep docker_image_tag | tr -d "[:space:]" | cut -d ':' -f 2
//
// which needs exactly one line containing the word, the entry itself,
// written so that the command yields the tag.
func checkImageTag(name string, data []byte, key, value *yaml.Node) error {
	var hits []int
	for i, l := range yamltext.Lines(data) {
		if strings.Contains(l, imageTagKey) {
			hits = append(hits, i+1)
		}
	}
	if key == nil || value == nil {
		return fmt.Errorf("%s: no top-level %s; quick-start-service.sh needs it to choose the dev-box image", name, imageTagKey)
	}
	if len(hits) != 1 {
		return fmt.Errorf("%s: lines %s contain %q; quick-start-service.sh greps for it and needs exactly one line, the %s entry (reword the others, comments included)",
			name, joinInts(hits), imageTagKey, imageTagKey)
	}
	if hits[0] != key.Line {
		return fmt.Errorf("%s:%d: the %s entry must be on one line with its key", name, key.Line, imageTagKey)
	}
	line := yamltext.Lines(data)[hits[0]-1]
	squeezed := strings.Map(func(r rune) rune {
		if strings.ContainsRune(" \t\n\r\v\f", r) {
			return -1
		}
		return r
	}, line)
	fields := strings.Split(squeezed, ":")
	got := ""
	if len(fields) > 1 {
		got = fields[1]
	}
	if value.Kind != yaml.ScalarNode || got != value.Value || got == "" {
		return fmt.Errorf("%s:%d: quick-start-service.sh would read the tag as %q, not %q: write it as `%s: TAG`, unquoted, with no comment",
			name, key.Line, got, value.Value, imageTagKey)
	}
	return nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

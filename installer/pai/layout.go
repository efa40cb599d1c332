package pai

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/paimirror/paimirror/manifests/yamltext"

	"go.yaml.in/yaml/v3"
)

// LayoutProblem is one thing wrong with a layout.yaml.
type LayoutProblem struct {
	// Source names the file, as given to ValidateLayout; may be empty.
	Source string
	// Line is the 1-based line of the problem, 0 when unknown.
	Line int
	// Entry names what is wrong: "machine-list[2] (pai-worker2)",
	// "machine-sku.gpu-machine.cpu.vcore", or empty for the file as a whole.
	Entry string
	// Msg says what is wrong, in lowercase.
	Msg string
}

// Error formats the problem as "SOURCE:LINE: ENTRY: MSG", leaving out the
// parts that are unknown.
func (p LayoutProblem) Error() string {
	var b strings.Builder
	if p.Source != "" {
		b.WriteString(p.Source)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Entry != "" {
		b.WriteString(p.Entry + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// LayoutError lists every problem ValidateLayout found, in source order.
type LayoutError struct {
	Problems []LayoutProblem
}

// Error prints one problem per line.
func (e *LayoutError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the problems, for errors.As.
func (e *LayoutError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// hostnamePattern is the hostname check pai's validate_layout_schema.py
// takes from kubespray's 0020-verify-settings.yml: RFC 1123, lowercase.
var hostnamePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// hostipPattern is pai's hostip check; ValidateLayout also wants each part
// at most 255.
var hostipPattern = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$`)

// maxLayoutProblems caps what ValidateLayout reports.
const maxLayoutProblems = 100

// ValidateLayout checks a quick-start layout.yaml (data, read from source)
// by the rules of pai v1.8.0's validate_layout_schema.py, reading values as
// pai's PyYAML does (YAML 1.1: an unquoted true is a boolean, not the
// string pai wants):
//
//   - top level: machine-sku and machine-list, optionally kubernetes
//     (api-servers-url, dashboard-url); no other keys, here or below;
//   - machine-sku: at least one SKU, each with mem (a string such as
//     "60Gi"), cpu.vcore (an integer) and optionally computing-device
//     (type, model: strings; count: an integer);
//   - machine-list: machines with hostname (RFC 1123, lowercase), hostip
//     (IPv4), machine-type (a SKU defined in machine-sku) and optionally
//     pai-master, pai-worker, pai-storage, each the string "true" or
//     "false";
//   - unique hostnames and hostips; exactly one pai-master; at least one
//     pai-worker; the master is not also a worker; and, beyond pai's own
//     check, pai-storage only on workers (the storage manager runs there).
//
// It returns nil or a *LayoutError with one LayoutProblem per problem,
// each naming the entry (machine index and hostname) and its line.
func ValidateLayout(data []byte, source string) error {
	v := &layoutValidator{source: source}
	v.validate(data)
	if len(v.problems) == 0 {
		return nil
	}
	slices.SortStableFunc(v.problems, func(a, b LayoutProblem) int { return a.Line - b.Line })
	return &LayoutError{Problems: v.problems}
}

type layoutValidator struct {
	source   string
	problems []LayoutProblem
}

func (v *layoutValidator) add(line int, entry, format string, args ...any) {
	if len(v.problems) >= maxLayoutProblems {
		return
	}
	v.problems = append(v.problems, LayoutProblem{Source: v.source, Line: line, Entry: entry, Msg: fmt.Sprintf(format, args...)})
}

// machine is what the cross-entry checks need of one machine-list entry.
type machine struct {
	line                    int
	entry                   string
	hostname, hostip, mtype string
	mtypeLine               int
	master, worker, storage bool
}

func (v *layoutValidator) validate(data []byte) {
	doc, err := yamltext.DecodeOne(data)
	if err != nil {
		line, msg := yamltext.ErrorLine(err)
		v.add(line, "", "%s", msg)
		return
	}
	root := yamltext.Resolve(yamltext.Root(doc))
	if root == nil || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		v.add(0, "", "is empty: want machine-sku and machine-list")
		return
	}
	if root.Kind != yaml.MappingNode {
		v.add(root.Line, "", "is %s, not a mapping with machine-sku and machine-list", yamltext.Describe(root))
		return
	}
	top := v.fields(root, "", []string{"machine-sku", "machine-list"}, []string{"kubernetes"})
	if k := top["kubernetes"]; k != nil {
		if v.want(k, "kubernetes", "map") {
			f := v.fields(k, "kubernetes", []string{"api-servers-url", "dashboard-url"}, nil)
			for _, name := range []string{"api-servers-url", "dashboard-url"} {
				if f[name] != nil {
					v.want(f[name], "kubernetes."+name, "str")
				}
			}
		}
	}
	skus := v.skus(top["machine-sku"])
	if list := top["machine-list"]; list != nil {
		v.machines(list, skus)
	}
}

// fields checks a mapping's keys: every required one present, no unknown
// ones, all strings. It returns the values by key.
func (v *layoutValidator) fields(m *yaml.Node, entry string, required, optional []string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, val := yamltext.Resolve(m.Content[i]), m.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			v.add(m.Content[i].Line, entry, "a key is not a string")
			continue
		}
		if line, dup := seen[k.Value]; dup {
			v.add(k.Line, entry, "%s is given twice (also on line %d)", k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		switch {
		case k.Value == "<<":
			v.add(k.Line, entry, "merge keys (<<) are not supported; write the keys out")
		case slices.Contains(required, k.Value) || slices.Contains(optional, k.Value):
			out[k.Value] = yamltext.Resolve(val)
		default:
			v.add(k.Line, entry, "unknown key %q (allowed: %s)", k.Value, strings.Join(append(slices.Clone(required), optional...), ", "))
		}
	}
	for _, r := range required {
		if out[r] == nil {
			v.add(m.Line, entry, "%s is missing", r)
		}
	}
	return out
}

// want checks that n has PyYAML type typ ("str", "int", "map", "list").
func (v *layoutValidator) want(n *yaml.Node, entry, typ string) bool {
	got := PyType(n)
	if got == typ {
		return true
	}
	names := map[string]string{"str": "a string", "int": "an integer", "map": "a mapping", "list": "a list"}
	hint := ""
	if typ == "str" && n.Kind == yaml.ScalarNode {
		hint = fmt.Sprintf(" (%s reads as %s: quote it)", n.Value, pyName(got))
	}
	if typ == "int" && got == "str" {
		hint = " (write the number without quotes)"
	}
	v.add(n.Line, entry, "is %s, want %s%s", pyName(got), names[typ], hint)
	return false
}

func pyName(t string) string {
	switch t {
	case "str":
		return "a string"
	case "int":
		return "an integer"
	case "float":
		return "a number"
	case "bool":
		return "a boolean"
	case "null":
		return "empty"
	case "timestamp":
		return "a date"
	case "map":
		return "a mapping"
	case "list":
		return "a list"
	}
	return "of an unsupported type"
}

// skus checks machine-sku and returns the SKU names it defines.
func (v *layoutValidator) skus(n *yaml.Node) map[string]bool {
	names := map[string]bool{}
	if n == nil || !v.want(n, "machine-sku", "map") {
		return names
	}
	if len(n.Content) == 0 {
		v.add(n.Line, "machine-sku", "defines no machine SKU")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, sku := yamltext.Resolve(n.Content[i]), yamltext.Resolve(n.Content[i+1])
		if k == nil || PyType(k) != "str" {
			v.add(n.Content[i].Line, "machine-sku", "SKU name %q is not a string: quote it", n.Content[i].Value)
			continue
		}
		names[k.Value] = true
		entry := "machine-sku." + k.Value
		if sku == nil || !v.want(sku, entry, "map") {
			continue
		}
		f := v.fields(sku, entry, []string{"mem", "cpu"}, []string{"computing-device"})
		if f["mem"] != nil {
			v.want(f["mem"], entry+".mem", "str")
		}
		if cpu := f["cpu"]; cpu != nil && v.want(cpu, entry+".cpu", "map") {
			if c := v.fields(cpu, entry+".cpu", []string{"vcore"}, nil); c["vcore"] != nil {
				v.want(c["vcore"], entry+".cpu.vcore", "int")
			}
		}
		if dev := f["computing-device"]; dev != nil && v.want(dev, entry+".computing-device", "map") {
			d := v.fields(dev, entry+".computing-device", []string{"type", "model", "count"}, nil)
			for _, name := range []string{"type", "model"} {
				if d[name] != nil {
					v.want(d[name], entry+".computing-device."+name, "str")
				}
			}
			if d["count"] != nil {
				v.want(d["count"], entry+".computing-device.count", "int")
			}
		}
	}
	return names
}

// machines checks machine-list, entry by entry and across entries.
func (v *layoutValidator) machines(list *yaml.Node, skus map[string]bool) {
	if !v.want(list, "machine-list", "list") {
		return
	}
	var ms []machine
	for i, item := range list.Content {
		item = yamltext.Resolve(item)
		m := machine{entry: fmt.Sprintf("machine-list[%d]", i), line: list.Content[i].Line}
		if item == nil || item.Kind != yaml.MappingNode {
			v.want(list.Content[i], m.entry, "map")
			continue
		}
		// Name the entry by its hostname as soon as there is one.
		for j := 0; j+1 < len(item.Content); j += 2 {
			if k := item.Content[j]; k.Value == "hostname" {
				if h := yamltext.Resolve(item.Content[j+1]); h != nil && h.Kind == yaml.ScalarNode && h.Value != "" {
					m.entry = fmt.Sprintf("machine-list[%d] (%s)", i, h.Value)
				}
			}
		}
		fields := v.fields(item, m.entry, []string{"hostname", "hostip", "machine-type"}, []string{"pai-master", "pai-worker", "pai-storage"})
		if h := fields["hostname"]; h != nil && v.want(h, m.entry+": hostname", "str") {
			m.hostname = h.Value
			v.hostname(h, m.entry)
		}
		if h := fields["hostip"]; h != nil && v.want(h, m.entry+": hostip", "str") {
			m.hostip = h.Value
			if !hostipPattern.MatchString(h.Value) || !validIPv4(h.Value) {
				v.add(h.Line, m.entry, "hostip %q is not an IPv4 address", h.Value)
			}
		}
		if t := fields["machine-type"]; t != nil && v.want(t, m.entry+": machine-type", "str") {
			m.mtype, m.mtypeLine = t.Value, t.Line
		}
		for _, role := range []string{"pai-master", "pai-worker", "pai-storage"} {
			r := fields[role]
			if r == nil {
				continue
			}
			if PyType(r) != "str" || (r.Value != "true" && r.Value != "false") {
				hint := ""
				if PyType(r) == "bool" {
					word := "false"
					if slices.Contains([]string{"yes", "true", "on"}, strings.ToLower(r.Value)) {
						word = "true"
					}
					hint = fmt.Sprintf(`: write "%s", in quotes`, word)
				}
				v.add(r.Line, m.entry, "%s is %s, want the string \"true\" or \"false\"%s", role, pyValue(r), hint)
				continue
			}
			on := r.Value == "true"
			switch role {
			case "pai-master":
				m.master = on
			case "pai-worker":
				m.worker = on
			case "pai-storage":
				m.storage = on
			}
		}
		ms = append(ms, m)
	}
	v.across(list, ms, skus)
}

// pyValue shows a scalar as PyYAML reads it.
func pyValue(n *yaml.Node) string {
	t := PyType(n)
	if n.Kind == yaml.ScalarNode && t != "str" {
		return fmt.Sprintf("%s (%s)", n.Value, pyName(t))
	}
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return pyName(t)
}

// hostname checks one hostname against RFC 1123 as kubespray does.
func (v *layoutValidator) hostname(h *yaml.Node, entry string) {
	name := h.Value
	switch {
	case name != strings.ToLower(name) && hostnamePattern.MatchString(strings.ToLower(name)):
		v.add(h.Line, entry, "hostname %q has upper-case letters; kubespray wants it lowercase (and the machine's own hostname to match)", name)
	case !hostnamePattern.MatchString(name):
		v.add(h.Line, entry, "hostname %q is not a valid RFC 1123 name (lowercase letters, digits, '-' and '.')", name)
	case len(name) > 253:
		v.add(h.Line, entry, "hostname is longer than 253 characters")
	default:
		for _, label := range strings.Split(name, ".") {
			if len(label) > 63 {
				v.add(h.Line, entry, "hostname label %q is longer than 63 characters", label)
				break
			}
		}
	}
}

// validIPv4 reports whether s is a dotted-quad IPv4 address (leading zeros
// allowed, as pai's pattern allows them).
func validIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n > 255 {
			return false
		}
	}
	return true
}

// across runs the checks that compare machines.
func (v *layoutValidator) across(list *yaml.Node, ms []machine, skus map[string]bool) {
	byName := map[string]machine{}
	byIP := map[string]machine{}
	var masters, workers []machine
	for _, m := range ms {
		if m.hostname != "" {
			if first, ok := byName[m.hostname]; ok {
				v.add(m.line, m.entry, "hostname %q is also %s's", m.hostname, first.entry)
			} else {
				byName[m.hostname] = m
			}
		}
		if m.hostip != "" {
			key := m.hostip
			if a, err := netip.ParseAddr(m.hostip); err == nil {
				key = a.String()
			}
			if first, ok := byIP[key]; ok {
				v.add(m.line, m.entry, "hostip %s is also %s's", m.hostip, first.entry)
			} else {
				byIP[key] = m
			}
		}
		if m.mtype != "" && !skus[m.mtype] {
			v.add(m.mtypeLine, m.entry, "machine-type %q is not defined in machine-sku", m.mtype)
		}
		if m.master {
			masters = append(masters, m)
		}
		if m.worker {
			workers = append(workers, m)
		}
		if m.storage && !m.worker {
			v.add(m.line, m.entry, `pai-storage is "true" on a machine that is not a pai-worker; the storage manager runs on workers`)
		}
	}
	switch len(masters) {
	case 0:
		v.add(list.Line, "machine-list", `no machine has pai-master: "true"; exactly one must`)
	case 1:
	default:
		for _, m := range masters[1:] {
			v.add(m.line, m.entry, `a second pai-master (the first is %s); exactly one machine has pai-master: "true"`, masters[0].entry)
		}
	}
	if len(workers) == 0 {
		v.add(list.Line, "machine-list", `no machine has pai-worker: "true"; at least one must`)
	}
	for _, m := range masters {
		if m.worker {
			v.add(m.line, m.entry, "is both pai-master and pai-worker; the master cannot be a worker")
		}
	}
}

// Machine is one machine of layout.yaml's machine-list.
type Machine struct {
	// Hostname is its hostname, also its Kubernetes node name.
	Hostname string
	// IP is its hostip.
	IP string
	// Type is its machine-type, a SKU of machine-sku.
	Type string
	// Master, Worker and Storage are pai-master, pai-worker and
	// pai-storage: "true". pai's templates compare with the string
	// 'true'; a YAML boolean true does not count there, and
	// ValidateLayout refuses it.
	Master, Worker, Storage bool
	// Device is the computing-device type of its SKU ("nvidia.com/gpu",
	// "amd.com/gpu"), or "" for a SKU without one.
	Device string
}

// Layout is a valid layout.yaml, as ParseLayout read it.
type Layout struct {
	// Machines are machine-list's machines, in order.
	Machines []Machine
}

// ParseLayout validates the layout.yaml data (read from source, which
// names it in errors) with ValidateLayout and returns its machines. An
// invalid layout is a *LayoutError. It costs two parses of data.
func ParseLayout(data []byte, source string) (*Layout, error) {
	if err := ValidateLayout(data, source); err != nil {
		return nil, err
	}
	var f struct {
		SKU map[string]struct {
			Device struct {
				Type string `yaml:"type"`
			} `yaml:"computing-device"`
		} `yaml:"machine-sku"`
		Machines []struct {
			Hostname string `yaml:"hostname"`
			HostIP   string `yaml:"hostip"`
			Type     string `yaml:"machine-type"`
			Master   string `yaml:"pai-master"`
			Worker   string `yaml:"pai-worker"`
			Storage  string `yaml:"pai-storage"`
		} `yaml:"machine-list"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	l := &Layout{}
	for _, m := range f.Machines {
		l.Machines = append(l.Machines, Machine{
			Hostname: m.Hostname, IP: m.HostIP, Type: m.Type,
			Master: m.Master == "true", Worker: m.Worker == "true", Storage: m.Storage == "true",
			Device: f.SKU[m.Type].Device.Type,
		})
	}
	return l, nil
}

// Devices returns the computing device types of the layout's workers, as
// pai's device plugin service collects them, plus nvidia.com/gpu, its
// default.
func (l *Layout) Devices() map[string]bool {
	devices := map[string]bool{"nvidia.com/gpu": true}
	for _, m := range l.Machines {
		if m.Worker && m.Device != "" {
			devices[m.Device] = true
		}
	}
	return devices
}

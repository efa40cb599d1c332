package storage

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/paimirror/paimirror/manifests/yamltext"

	"go.yaml.in/yaml/v3"

	"github.com/paimirror/paimirror/installer/patch"
)

// Machine is one machine of layout.yaml's machine-list.
type Machine struct {
	// Hostname is its hostname, also its Kubernetes node name.
	Hostname string
	// IP is its hostip.
	IP string
	// Master, Worker and Storage are pai-master, pai-worker and
	// pai-storage: "true".
	Master, Worker, Storage bool
}

// layoutFile is the part of layout.yaml Setup reads.
type layoutFile struct {
	MachineList []struct {
		Hostname string `yaml:"hostname"`
		HostIP   string `yaml:"hostip"`
		Master   any    `yaml:"pai-master"`
		Worker   any    `yaml:"pai-worker"`
		Storage  any    `yaml:"pai-storage"`
	} `yaml:"machine-list"`
}

// parseMachines validates layout.yaml with pai's rules and lists its
// machines.
func parseMachines(data []byte, source string) ([]Machine, error) {
	if err := patch.ValidateLayout(data, source); err != nil {
		return nil, err
	}
	var l layoutFile
	if err := yaml.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	var ms []Machine
	for _, m := range l.MachineList {
		// pai's templates compare with the string 'true'; a YAML boolean
		// true does not count there, so it does not count here.
		ms = append(ms, Machine{
			Hostname: m.Hostname, IP: m.HostIP,
			Master: m.Master == "true", Worker: m.Worker == "true", Storage: m.Storage == "true",
		})
	}
	return ms, nil
}

// markStorage returns layout.yaml with `pai-storage: "true"` on the machine
// hostname, everything else kept byte for byte, and whether that changed
// anything. The line goes after the machine's pai-worker line, with its
// indentation (or at the end of a flow mapping); a pai-storage with
// another value is set to "true".
func markStorage(data []byte, hostname string) ([]byte, bool, error) {
	doc, err := yamltext.DecodeOne(data)
	if err != nil {
		return nil, false, err
	}
	_, list := lookup(root(doc), "machine-list")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, false, fmt.Errorf("no machine-list sequence")
	}
	var item *yaml.Node
	for _, m := range list.Content {
		if _, h := lookup(m, "hostname"); h != nil && h.Kind == yaml.ScalarNode && h.Value == hostname {
			item = m
			break
		}
	}
	if item == nil {
		return nil, false, fmt.Errorf("%w: no machine with hostname %s", ErrNoSuchNode, hostname)
	}
	const entry = `pai-storage: "true"`
	t := newText(data)
	switch _, v := lookup(item, "pai-storage"); {
	case isString(v, "true"):
		return data, false, nil
	case v != nil:
		if err := t.replaceScalar(v, isFlow(item), `"true"`); err != nil {
			return nil, false, fmt.Errorf("pai-storage of %s: %w", hostname, err)
		}
	case isFlow(item):
		if err := t.addToFlowMapping(item, entry); err != nil {
			return nil, false, fmt.Errorf("machine %s: %w", hostname, err)
		}
	default:
		k, v := lookup(item, "pai-worker")
		if k == nil || v.Kind != yaml.ScalarNode || v.Line != k.Line {
			line := item.Line
			if k != nil {
				line = k.Line
			}
			return nil, false, fmt.Errorf("%w: line %d: machine %s has no one-line pai-worker entry to put pai-storage after", ErrEdit, line, hostname)
		}
		body, _ := t.line(k.Line)
		koff := byteOffset(body, k.Column)
		if koff < 0 || strings.TrimLeft(body[:koff], " -") != "" {
			return nil, false, fmt.Errorf("%w: line %d: pai-worker is not where the parser put it", ErrEdit, k.Line)
		}
		// The entry must end on its line: no continuation lines follow.
		for n := k.Line + 1; n <= len(t.lines); n++ {
			next, _ := t.line(n)
			trimmed := strings.TrimLeft(next, " ")
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			if len(next)-len(trimmed) > koff {
				return nil, false, fmt.Errorf("%w: line %d: the pai-worker entry of %s goes on after its line", ErrEdit, k.Line, hostname)
			}
			break
		}
		t.insertAfter(k.Line, strings.Repeat(" ", koff)+entry)
	}
	out := t.bytes()
	if err := checkMarked(data, out, hostname); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// checkMarked proves that after is before with pai-storage: "true" on the
// machine hostname and nothing else changed in meaning.
func checkMarked(before, after []byte, hostname string) error {
	old, err := decodeAny(before)
	if err != nil {
		return err
	}
	now, err := decodeAny(after)
	if err != nil {
		return fmt.Errorf("%w: the edited layout.yaml does not parse: %v", ErrEdit, err)
	}
	if m, ok := old.(map[string]any); ok {
		if list, ok := m["machine-list"].([]any); ok {
			for _, e := range list {
				if em, ok := e.(map[string]any); ok && fmt.Sprint(em["hostname"]) == hostname {
					em["pai-storage"] = "true"
				}
			}
		}
	}
	if !reflect.DeepEqual(old, now) {
		return fmt.Errorf("%w: editing layout.yaml would change more than pai-storage of %s", ErrEdit, hostname)
	}
	return nil
}

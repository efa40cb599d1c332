package storage

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/manifests/yamltext"
	"go.yaml.in/yaml/v3"
)

// Machine is one machine of layout.yaml's machine-list, as package pai
// reads it.
type Machine = pai.Machine

// parseMachines validates layout.yaml with pai's rules and lists its
// machines.
func parseMachines(data []byte, source string) ([]Machine, error) {
	l, err := pai.ParseLayout(data, source)
	if err != nil {
		return nil, err
	}
	return l.Machines, nil
}

// editError makes an edit the editor refuses (a *yamltext.EditError) an
// ErrEdit, keeping its message.
func editError(err error) error {
	if _, ok := errors.AsType[*yamltext.EditError](err); ok {
		return fmt.Errorf("%w: %w", ErrEdit, err)
	}
	return err
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
	_, list := yamltext.Lookup(yamltext.Root(doc), "machine-list")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, false, fmt.Errorf("no machine-list sequence")
	}
	var item *yaml.Node
	for _, m := range list.Content {
		if _, h := yamltext.Lookup(m, "hostname"); h != nil && h.Kind == yaml.ScalarNode && h.Value == hostname {
			item = m
			break
		}
	}
	if item == nil {
		return nil, false, fmt.Errorf("%w: no machine with hostname %s", ErrNoSuchNode, hostname)
	}
	const entry = `pai-storage: "true"`
	t := yamltext.NewText(data)
	if err := t.CheckBreaks(); err != nil {
		return nil, false, editError(err)
	}
	var e yamltext.Edit
	switch _, v := yamltext.Lookup(item, "pai-storage"); {
	case yamltext.IsString(v, "true"):
		return data, false, nil
	case v != nil:
		if e, err = t.ReplaceScalar(v, yamltext.IsFlow(item), `"true"`); err != nil {
			return nil, false, fmt.Errorf("pai-storage of %s: %w", hostname, editError(err))
		}
	case yamltext.IsFlow(item):
		if e, err = t.AddToFlowMapping(item, entry); err != nil {
			return nil, false, fmt.Errorf("machine %s: %w", hostname, editError(err))
		}
	default:
		k, v := yamltext.Lookup(item, "pai-worker")
		if k == nil || v.Kind != yaml.ScalarNode || v.Line != k.Line {
			line := item.Line
			if k != nil {
				line = k.Line
			}
			return nil, false, fmt.Errorf("%w: line %d: machine %s has no one-line pai-worker entry to put pai-storage after", ErrEdit, line, hostname)
		}
		body, _ := t.Line(k.Line)
		koff := yamltext.ByteOffset(body, k.Column)
		if koff < 0 || strings.TrimLeft(body[:koff], " -") != "" {
			return nil, false, fmt.Errorf("%w: line %d: pai-worker is not where the parser put it", ErrEdit, k.Line)
		}
		// The entry must end on its line: no continuation lines follow.
		for n := k.Line + 1; n <= len(t.Lines); n++ {
			next, _ := t.Line(n)
			trimmed := strings.TrimLeft(next, " ")
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			if len(next)-len(trimmed) > koff {
				return nil, false, fmt.Errorf("%w: line %d: the pai-worker entry of %s goes on after its line", ErrEdit, k.Line, hostname)
			}
			break
		}
		e = t.InsertAfter(k.Line, strings.Repeat(" ", koff)+entry)
	}
	out, err := t.Apply(e)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrEdit, err)
	}
	if err := checkMarked(data, out, hostname); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// checkMarked proves that after is before with pai-storage: "true" on the
// machine hostname and nothing else changed in meaning.
func checkMarked(before, after []byte, hostname string) error {
	old, err := yamltext.DecodeAny(before)
	if err != nil {
		return err
	}
	now, err := yamltext.DecodeAny(after)
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

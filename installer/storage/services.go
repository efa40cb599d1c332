package storage

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/paimirror/paimirror/manifests/yamltext"
	"go.yaml.in/yaml/v3"
)

// smKey is the section of services-configuration.yaml that configures
// storage-manager, and localpathKey its directory on the storage node.
const (
	smKey        = "storage-manager"
	localpathKey = "localpath"
)

// commentedHeader is the commented-out section pai's generated
// services-configuration.yaml ends with:
//
//	# uncomment following section if you want to customize the port of storage-manager
//	# storage-manager:
//	#  localpath: /share
//	#  security-type: AUTO
//	...
var commentedHeader = regexp.MustCompile(`^#( *)storage-manager:[ \t]*(#.*)?$`)

// enableStorageManager returns services-configuration.yaml with the
// storage-manager section enabled and its localpath set, everything else
// kept byte for byte, and whether that changed anything:
//   - a storage-manager section gets localpath set (or added as its first
//     entry);
//   - otherwise the commented-out section is uncommented, as the guide
//     does by hand: its header and its localpath line (set to localpath);
//     its other lines (security-type, workgroup, smbuser, smbpwd, whose
//     defaults storage-manager has anyway) stay comments;
//   - otherwise the section is added at the end.
func enableStorageManager(data []byte, localpath string) ([]byte, bool, error) {
	doc, err := yamltext.DecodeOne(data)
	if err != nil {
		return nil, false, err
	}
	top := yamltext.Root(doc)
	if top != nil && top.Kind != yaml.MappingNode {
		return nil, false, fmt.Errorf("%w: the file is not a mapping", ErrEdit)
	}
	t := yamltext.NewText(data)
	if err := t.CheckBreaks(); err != nil {
		return nil, false, editError(err)
	}
	entry := localpathKey + ": " + localpath
	var edits []yamltext.Edit
	k, v := yamltext.Lookup(top, smKey)
	switch {
	case k != nil && v.Kind == yaml.MappingNode:
		_, lv := yamltext.Lookup(v, localpathKey)
		switch {
		case yamltext.IsString(lv, localpath):
			return data, false, nil
		case lv != nil:
			e, err := t.ReplaceScalar(lv, yamltext.IsFlow(v), localpath)
			if err != nil {
				return nil, false, fmt.Errorf("%s.%s: %w", smKey, localpathKey, editError(err))
			}
			edits = append(edits, e)
		case yamltext.IsFlow(v):
			e, err := t.AddToFlowMapping(v, entry)
			if err != nil {
				return nil, false, fmt.Errorf("%s: %w", smKey, editError(err))
			}
			edits = append(edits, e)
		default:
			first := v.Content[0]
			body, _ := t.Line(first.Line)
			off := yamltext.ByteOffset(body, first.Column)
			if off < 0 || strings.TrimLeft(body[:off], " ") != "" || first.Line <= k.Line {
				return nil, false, fmt.Errorf("%w: line %d: the %s section is not laid out one entry a line", ErrEdit, first.Line, smKey)
			}
			edits = append(edits, t.InsertAfter(k.Line, body[:off]+entry))
		}
	case k != nil && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null":
		// "storage-manager:" with no entries (maybe with the commented
		// ones below it), or "storage-manager: null".
		body, _ := t.Line(k.Line)
		koff := yamltext.ByteOffset(body, k.Column)
		if k.Column != 1 || koff != 0 {
			return nil, false, fmt.Errorf("%w: line %d: %s is not a top-level key at the start of its line", ErrEdit, k.Line, smKey)
		}
		if v.Value != "" { // "null" or "~"
			edits = append(edits, t.SetLine(k.Line, smKey+":"))
		}
		edits = append(edits, uncommentLocalpath(t, k.Line, 0, entry))
	case k != nil:
		return nil, false, fmt.Errorf("%w: line %d: %s is not a mapping", ErrEdit, k.Line, smKey)
	default:
		header := 0
		for n := 1; n <= len(t.Lines); n++ {
			body, _ := t.Line(n)
			if commentedHeader.MatchString(body) {
				header = n
				break
			}
		}
		if header > 0 {
			body, _ := t.Line(header)
			spaces := len(commentedHeader.FindStringSubmatch(body)[1])
			edits = append(edits, t.SetLine(header, smKey+":"), uncommentLocalpath(t, header, spaces, entry))
		} else {
			n := len(t.Lines)
			if n > 0 {
				if last, _ := t.Line(n); strings.TrimSpace(last) != "" {
					edits = append(edits, t.InsertAfter(n, ""))
				}
			}
			edits = append(edits, t.InsertAfter(n, smKey+":"), t.InsertAfter(n, "  "+entry))
		}
	}
	out, err := t.Apply(edits...)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrEdit, err)
	}
	if err := checkEnabled(data, out, localpath); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// uncommentLocalpath returns the edit for the commented entries that
// follow the storage-manager header on line header: lines "#" + more
// than spaces blanks + text. The commented localpath among them is
// uncommented with the value set; without one, the entry is added after
// the header.
func uncommentLocalpath(t *yamltext.Text, header, spaces int, entry string) yamltext.Edit {
	indent := 2
	for n := header + 1; n <= len(t.Lines); n++ {
		body, _ := t.Line(n)
		rest, ok := strings.CutPrefix(body, "#")
		if !ok {
			break
		}
		trimmed := strings.TrimLeft(rest, " ")
		ind := len(rest) - len(trimmed)
		if trimmed == "" || ind <= spaces {
			break
		}
		if strings.HasPrefix(trimmed, localpathKey+":") {
			return t.SetLine(n, strings.Repeat(" ", ind)+entry)
		}
		if n == header+1 && ind >= 2 {
			indent = ind
		}
	}
	return t.InsertAfter(header, strings.Repeat(" ", indent)+entry)
}

// checkEnabled proves that after is before with storage-manager.localpath
// set and nothing else changed in meaning.
func checkEnabled(before, after []byte, localpath string) error {
	old, err := yamltext.DecodeAny(before)
	if err != nil {
		return err
	}
	now, err := yamltext.DecodeAny(after)
	if err != nil {
		return fmt.Errorf("%w: the edited services-configuration.yaml does not parse: %v", ErrEdit, err)
	}
	if old == nil {
		old = map[string]any{}
	}
	om, ok := old.(map[string]any)
	if !ok {
		return fmt.Errorf("%w: services-configuration.yaml is not a mapping", ErrEdit)
	}
	sm, _ := om[smKey].(map[string]any)
	if sm == nil {
		sm = map[string]any{}
	}
	sm[localpathKey] = localpath
	om[smKey] = sm
	if !reflect.DeepEqual(old, now) {
		return fmt.Errorf("%w: editing services-configuration.yaml would change more than %s.%s", ErrEdit, smKey, localpathKey)
	}
	return nil
}

// clusterID returns services-configuration.yaml's cluster.common.cluster-id,
// or "pai", the default paictl uses when it is not set.
func clusterID(data []byte) string {
	var c struct {
		Cluster struct {
			Common struct {
				ClusterID string `yaml:"cluster-id"`
			} `yaml:"common"`
		} `yaml:"cluster"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil || c.Cluster.Common.ClusterID == "" {
		return "pai"
	}
	return c.Cluster.Common.ClusterID
}

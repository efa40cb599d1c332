package pai

import (
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/paimirror/paimirror/manifests/yamltext"
)

// pai reads config.yaml and layout.yaml with PyYAML, which follows YAML 1.1:
// "yes", "off" and "2021-01-01" are not strings there, as they are for
// yaml.v3. These are PyYAML's implicit resolvers (resolver.py), so that a
// check here reaches the verdict pai's own would.
var (
	pyBool = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	pyInt  = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	pyFlt  = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	pyNull = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	pyTime = regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)
)

// PyType returns the type pai's PyYAML gives a node (following aliases):
// "str", "int", "float", "bool", "null", "timestamp", "map", "list", or
// "other" (binary, sets and other explicit tags). A check of a value pai
// reads (layout.yaml's roles, config.yaml's openpai_kubespray_extra_var)
// thereby reaches the verdict pai's own would. It costs a few regular
// expression matches.
func PyType(n *yaml.Node) string {
	n = yamltext.Resolve(n)
	if n == nil {
		return "null"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "map"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
	default:
		return "other"
	}
	if n.Style&yaml.TaggedStyle != 0 {
		switch n.Tag {
		case "!!str":
			return "str"
		case "!!int":
			return "int"
		case "!!float":
			return "float"
		case "!!bool":
			return "bool"
		case "!!null":
			return "null"
		case "!!timestamp":
			return "timestamp"
		}
		return "other"
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return "str"
	}
	v := n.Value
	switch {
	case pyBool.MatchString(v):
		return "bool"
	case pyInt.MatchString(v):
		return "int"
	case pyFlt.MatchString(v):
		return "float"
	case pyNull.MatchString(v):
		return "null"
	case pyTime.MatchString(v):
		return "timestamp"
	}
	return "str"
}

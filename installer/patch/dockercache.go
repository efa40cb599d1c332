package patch

import (
	"fmt"
	"strings"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/manifests/yamltext"
	"go.yaml.in/yaml/v3"
)

// dockerCacheKey is the docker-cache role variable that
// docker-cache-config-distribute.yml sets: the host:port every node gets
// in daemon.json's registry-mirrors and insecure-registries.
const dockerCacheKey = "docker_cache_host"

// dockerCacheSwitch is the docker-cache role's own switch, which
// docker-cache-config-distribute.yml sets to true in the role's vars.
const dockerCacheSwitch = "enable_docker_cache"

// patchDockerCache points every docker_cache_host in
// docker-cache-config-distribute.yml at mirror and sets every
// enable_docker_cache there to enable (a YAML boolean), keeping the rest
// of the file as it is.
//
// With enable false (install --registry) the role does nothing: the
// playbook still runs (quick-start-kubespray.sh runs it unconditionally)
// and restarts docker, but daemon.json is left alone. Every image of the
// install path then names the registry, so no registry mirror is needed,
// and none is wanted: the mirror as registry mirror would quietly serve a
// reference the patch missed, which then breaks once the mirror is shut
// down (kubespray sets k8s_image_pull_policy: Always), and the registry
// cannot take its place, since registry-mirrors cannot carry a path
// (docker would ask REGISTRY/v2/library/busybox/..., outside the prefix,
// where Harbor's default "library" project may answer with another
// image), and the role would also put it in insecure-registries, which
// turns off TLS verification for a registry that has it. The registry's
// trust (its CA, or insecure-registries for a plain-HTTP one) and, for a
// private project, the nodes' docker login are the prepare step's.
func patchDockerCache(name string, data []byte, mirror string, enable bool) ([]byte, error) {
	doc, err := yamltext.DecodeOne(data)
	if err != nil {
		return nil, yamltext.FileError(name, err)
	}
	t := yamltext.NewText(data)
	var edits []yamltext.Edit
	found := false
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		if n == nil {
			return nil
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Kind != yaml.ScalarNode || (k.Value != dockerCacheKey && k.Value != dockerCacheSwitch) {
					continue
				}
				text := quoted(mirror)
				if k.Value == dockerCacheSwitch {
					text = fmt.Sprint(enable)
					if v.Kind == yaml.ScalarNode && pai.PyType(v) == "bool" && pyBoolValue(v.Value) == enable {
						continue
					}
				} else {
					found = true
					if v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == mirror {
						continue
					}
				}
				if n.Style&yaml.FlowStyle != 0 {
					return fmt.Errorf("%s:%d: %s is in a flow mapping ({...}); write it one key per line", name, k.Line, k.Value)
				}
				e, err := t.SetValue(k, v, text)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				edits = append(edits, e)
			}
		}
		for _, c := range n.Content {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(doc); err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%s: no %s to point at the mirror", name, dockerCacheKey)
	}
	out, err := t.Apply(edits...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if _, err := yamltext.DecodeOne(out); err != nil {
		return nil, fmt.Errorf("the result does not parse: %w", yamltext.FileError(name, err))
	}
	return out, nil
}

// pyBoolValue is the value of a scalar PyYAML reads as a boolean.
func pyBoolValue(s string) bool {
	switch strings.ToLower(s) {
	case "yes", "true", "on":
		return true
	}
	return false
}

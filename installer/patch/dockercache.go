package patch

import (
	"fmt"

	"github.com/paimirror/paimirror/manifests/yamltext"

	"gopkg.in/yaml.v3"
)

// dockerCacheKey is the docker-cache role variable that
// docker-cache-config-distribute.yml sets: the host:port every node gets
// in daemon.json's registry-mirrors and insecure-registries.
const dockerCacheKey = "docker_cache_host"

// patchDockerCache points every docker_cache_host in
// docker-cache-config-distribute.yml at mirror, keeping the rest of the
// file as it is.
func patchDockerCache(name string, data []byte, mirror string) ([]byte, error) {
	doc, err := yamltext.DecodeOne(data)
	if err != nil {
		return nil, yamlErrorf(name, err)
	}
	lines := splitLines(data)
	var edits []edit
	found := false
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		if n == nil {
			return nil
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value != dockerCacheKey || k.Kind != yaml.ScalarNode {
					continue
				}
				found = true
				if v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == mirror {
					continue
				}
				if n.Style&yaml.FlowStyle != 0 {
					return fmt.Errorf("%s:%d: %s is in a flow mapping ({...}); write it one key per line", name, k.Line, dockerCacheKey)
				}
				e, err := setValue(lines, k, v, quoted(mirror))
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
	out, err := applyEdits(lines, edits, eolOf(lines))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if _, err := yamltext.DecodeOne(out); err != nil {
		return nil, fmt.Errorf("the result does not parse: %w", yamlErrorf(name, err))
	}
	return out, nil
}

package installer

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/paimirror/paimirror/installer/nodes"
	"github.com/paimirror/paimirror/installer/pai"
)

// readConfig reads config.yaml and checks it has the nodes' login.
func readConfig(path string) (*pai.Config, error) {
	c, err := pai.ReadConfig(path)
	if err != nil {
		return nil, err
	}
	if err := c.CheckLogin(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// readNodes validates layout.yaml with pai's rules and lists its machines.
func readNodes(path string) ([]nodes.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", pai.LayoutName, err)
	}
	l, err := pai.ParseLayout(data, filepath.Base(path))
	if err != nil {
		return nil, err
	}
	var out []nodes.Node
	for _, m := range l.Machines {
		n := nodes.Node{Name: m.Hostname, Addr: m.IP, Role: nodes.Worker, Storage: m.Storage}
		if m.Master {
			n.Role = nodes.Master
		}
		n.GPU = n.Role == nodes.Worker && m.Device == "nvidia.com/gpu"
		out = append(out, n)
	}
	return out, nil
}

package installer

import (
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/paimirror/paimirror/installer/nodes"
	"github.com/paimirror/paimirror/installer/patch"
)

// clusterConfig is what the installer reads from config.yaml.
type clusterConfig struct {
	User       string `yaml:"user"`
	Password   string `yaml:"password"`
	SSHKeyFile string `yaml:"ssh_key_file_path"`
}

// layout is what the installer reads from layout.yaml (already validated
// with pai's rules by patch.ValidateLayout).
type layout struct {
	MachineSKU map[string]struct {
		ComputingDevice struct {
			Type string `yaml:"type"`
		} `yaml:"computing-device"`
	} `yaml:"machine-sku"`
	MachineList []struct {
		Hostname    string `yaml:"hostname"`
		HostIP      string `yaml:"hostip"`
		MachineType string `yaml:"machine-type"`
		Master      string `yaml:"pai-master"`
		Worker      string `yaml:"pai-worker"`
		Storage     string `yaml:"pai-storage"`
	} `yaml:"machine-list"`
}

func readConfig(path string) (*clusterConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config.yaml: %w", err)
	}
	var c clusterConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.User == "" {
		return nil, fmt.Errorf("%s: user is required (the SSH user of every node, as in the seed guide)", path)
	}
	if c.Password == "" && c.SSHKeyFile == "" {
		return nil, fmt.Errorf("%s: password (or ssh_key_file_path) is required to reach the nodes", path)
	}
	return &c, nil
}

// readNodes validates layout.yaml with pai's rules and lists its machines.
func readNodes(path string) ([]nodes.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading layout.yaml: %w", err)
	}
	if err := patch.ValidateLayout(data, filepath.Base(path)); err != nil {
		return nil, err
	}
	var l layout
	if err := yaml.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []nodes.Node
	for _, m := range l.MachineList {
		n := nodes.Node{Name: m.Hostname, Addr: m.HostIP, Role: nodes.Worker, Storage: m.Storage == "true"}
		if m.Master == "true" {
			n.Role = nodes.Master
		}
		n.GPU = n.Role == nodes.Worker && l.MachineSKU[m.MachineType].ComputingDevice.Type == "nvidia.com/gpu"
		out = append(out, n)
	}
	return out, nil
}

package pai

import (
	"errors"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// Config is what paimirror reads of config.yaml; patch edits the file
// itself as text.
type Config struct {
	// User and Password are the SSH login of every node (user,
	// password); SSHKeyFile is ssh_key_file_path, a private key in
	// place of the password.
	User, Password, SSHKeyFile string
	// ImageTag is docker_image_tag, the tag of pai's images, as written.
	ImageTag string
	// RegistryNamespace is docker_registry_namespace, where pai's images
	// are (pai's default, when empty: openpai).
	RegistryNamespace string
}

// ReadConfig reads the config.yaml at path. A file that is not YAML or
// holds other types for these keys is an error naming path. It reads
// the file once.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ConfigName, err)
	}
	var c struct {
		User       string `yaml:"user"`
		Password   string `yaml:"password"`
		SSHKeyFile string `yaml:"ssh_key_file_path"`
		ImageTag   string `yaml:"docker_image_tag"`
		Namespace  string `yaml:"docker_registry_namespace"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Config{User: c.User, Password: c.Password, SSHKeyFile: c.SSHKeyFile, ImageTag: c.ImageTag, RegistryNamespace: c.Namespace}, nil
}

// CheckLogin says what config.yaml lacks for logging in to the nodes: a
// user, and a password or ssh_key_file_path; nil when it has both.
func (c *Config) CheckLogin() error {
	if c.User == "" {
		return errors.New("user is required (the SSH user of every node, as in the seed guide)")
	}
	if c.Password == "" && c.SSHKeyFile == "" {
		return errors.New("password (or ssh_key_file_path) is required to reach the nodes")
	}
	return nil
}

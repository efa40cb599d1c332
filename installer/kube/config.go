package kube

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/paimirror/paimirror/installer/pai"
)

// Config is what a Client needs to reach and authenticate to an API server,
// as read from a kubeconfig by LoadConfig or filled in by hand.
type Config struct {
	// Server is the API server's URL, for example https://10.0.0.1:6443.
	Server string
	// CAData is the PEM bundle the server's certificate must chain to;
	// empty means the system's roots.
	CAData []byte
	// Insecure skips verifying the server's certificate.
	Insecure bool
	// TLSServerName is the name the server's certificate is checked
	// against; empty means the host of Server.
	TLSServerName string
	// CertData and KeyData are the PEM client certificate and key; empty
	// means no client certificate.
	CertData, KeyData []byte
	// Token is a bearer token; empty means none.
	Token string
	// Context is the name of the kubeconfig context this came from, and
	// Namespace that context's namespace (informational).
	Context, Namespace string
}

// String describes the configuration without its secrets.
func (c *Config) String() string {
	auth := "no credentials"
	switch {
	case len(c.CertData) > 0 && c.Token != "":
		auth = "client certificate and token"
	case len(c.CertData) > 0:
		auth = "client certificate"
	case c.Token != "":
		auth = "token"
	}
	return fmt.Sprintf("context %q: %s with %s", c.Context, c.Server, auth)
}

// ConfigOptions tunes LoadConfig.
type ConfigOptions struct {
	// Context is the kubeconfig context to use; default the file's
	// current-context.
	Context string
}

// DefaultKubeconfig returns the kubeconfig pai's quick-start leaves on the
// dev box: ~/pai-deploy/kube/config (pai.KubeconfigFile in pai.DeployDir,
// in the home directory).
func DefaultKubeconfig() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("locating the kubeconfig: %w", err)
	}
	return filepath.Join(home, pai.DeployDir, filepath.FromSlash(pai.KubeconfigFile)), nil
}

// LoadConfig reads the kubeconfig at path and returns the configuration of
// its current context (or of opts.Context). Files the kubeconfig names are
// read now, relative to the kubeconfig's directory.
func LoadConfig(path string, opts ConfigOptions) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	cfg, err := ParseConfig(data, filepath.Dir(path), opts)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses a kubeconfig's contents; relative file names in it are
// relative to dir.
func ParseConfig(data []byte, dir string, opts ConfigOptions) (*Config, error) {
	var kc kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return nil, configErr("not a kubeconfig: %w", err)
	}
	name := opts.Context
	if name == "" {
		name = kc.CurrentContext
	}
	if name == "" {
		return nil, configErr("no current-context set and no context chosen")
	}
	var ctx *kcContext
	for i := range kc.Contexts {
		if kc.Contexts[i].Name == name {
			ctx = &kc.Contexts[i].Context
			break
		}
	}
	if ctx == nil {
		return nil, configErr("context %q not found", name)
	}
	var cluster *kcCluster
	for i := range kc.Clusters {
		if kc.Clusters[i].Name == ctx.Cluster {
			cluster = &kc.Clusters[i].Cluster
			break
		}
	}
	if cluster == nil {
		return nil, configErr("context %q: cluster %q not found", name, ctx.Cluster)
	}
	var user *kcUser
	for i := range kc.Users {
		if kc.Users[i].Name == ctx.User {
			user = &kc.Users[i].User
			break
		}
	}
	if user == nil && ctx.User != "" {
		return nil, configErr("context %q: user %q not found", name, ctx.User)
	}

	cfg := &Config{
		Server:        cluster.Server,
		Insecure:      cluster.InsecureSkipTLSVerify,
		TLSServerName: cluster.TLSServerName,
		Context:       name,
		Namespace:     ctx.Namespace,
	}
	if cfg.Server == "" {
		return nil, configErr("cluster %q: no server", ctx.Cluster)
	}
	if u, err := url.Parse(cfg.Server); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, configErr("cluster %q: server %q is not an http(s) URL", ctx.Cluster, cfg.Server)
	}
	var err error
	where := fmt.Sprintf("cluster %q", ctx.Cluster)
	if cfg.CAData, err = dataOrFile(where, "certificate-authority", cluster.CertificateAuthorityData, cluster.CertificateAuthority, dir); err != nil {
		return nil, err
	}
	if len(cfg.CAData) > 0 {
		if !x509.NewCertPool().AppendCertsFromPEM(cfg.CAData) {
			return nil, configErr("%s: certificate-authority holds no PEM certificate", where)
		}
	}
	if user == nil {
		return cfg, nil
	}

	where = fmt.Sprintf("user %q", ctx.User)
	switch {
	case user.Exec != nil:
		return nil, configErr("%s: exec credential plugins are not supported; use a client certificate or a token", where)
	case user.AuthProvider != nil:
		return nil, configErr("%s: auth-provider is not supported; use a client certificate or a token", where)
	case user.Username != "" || user.Password != "":
		return nil, configErr("%s: basic authentication is not supported; use a client certificate or a token", where)
	}
	if cfg.CertData, err = dataOrFile(where, "client-certificate", user.ClientCertificateData, user.ClientCertificate, dir); err != nil {
		return nil, err
	}
	if cfg.KeyData, err = dataOrFile(where, "client-key", user.ClientKeyData, user.ClientKey, dir); err != nil {
		return nil, err
	}
	switch {
	case len(cfg.CertData) > 0 && len(cfg.KeyData) == 0:
		return nil, configErr("%s: client certificate without client key", where)
	case len(cfg.CertData) == 0 && len(cfg.KeyData) > 0:
		return nil, configErr("%s: client key without client certificate", where)
	case len(cfg.CertData) > 0:
		if _, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData); err != nil {
			return nil, configErr("%s: client certificate and key: %w", where, err)
		}
	}
	cfg.Token = user.Token
	if cfg.Token == "" && user.TokenFile != "" {
		b, err := os.ReadFile(resolve(dir, user.TokenFile))
		if err != nil {
			return nil, configErr("%s: tokenFile: %w", where, err)
		}
		cfg.Token = strings.TrimSpace(string(b))
	}
	return cfg, nil
}

// dataOrFile returns the base64-decoded inline data of a kubeconfig field, or
// else the contents of the file it names.
func dataOrFile(where, field, data, file, dir string) ([]byte, error) {
	if data != "" {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data))
		if err != nil {
			return nil, configErr("%s: %s-data is not valid base64: %w", where, field, err)
		}
		return b, nil
	}
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(resolve(dir, file))
	if err != nil {
		return nil, configErr("%s: %s: %w", where, field, err)
	}
	return b, nil
}

func resolve(dir, file string) string {
	if filepath.IsAbs(file) || dir == "" {
		return file
	}
	return filepath.Join(dir, file)
}

// kubeconfig is the part of a kubeconfig file this package reads.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Clusters       []struct {
		Name    string    `yaml:"name"`
		Cluster kcCluster `yaml:"cluster"`
	} `yaml:"clusters"`
	Contexts []struct {
		Name    string    `yaml:"name"`
		Context kcContext `yaml:"context"`
	} `yaml:"contexts"`
	Users []struct {
		Name string `yaml:"name"`
		User kcUser `yaml:"user"`
	} `yaml:"users"`
}

type kcCluster struct {
	Server                   string `yaml:"server"`
	CertificateAuthority     string `yaml:"certificate-authority"`
	CertificateAuthorityData string `yaml:"certificate-authority-data"`
	InsecureSkipTLSVerify    bool   `yaml:"insecure-skip-tls-verify"`
	TLSServerName            string `yaml:"tls-server-name"`
}

type kcContext struct {
	Cluster   string `yaml:"cluster"`
	User      string `yaml:"user"`
	Namespace string `yaml:"namespace"`
}

type kcUser struct {
	ClientCertificate     string `yaml:"client-certificate"`
	ClientCertificateData string `yaml:"client-certificate-data"`
	ClientKey             string `yaml:"client-key"`
	ClientKeyData         string `yaml:"client-key-data"`
	Token                 string `yaml:"token"`
	TokenFile             string `yaml:"tokenFile"`
	Username              string `yaml:"username"`
	Password              string `yaml:"password"`
	Exec                  any    `yaml:"exec"`
	AuthProvider          any    `yaml:"auth-provider"`
}

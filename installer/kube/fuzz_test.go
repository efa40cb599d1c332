package kube

import (
	"strings"
	"testing"
)

// FuzzParseConfig feeds arbitrary kubeconfigs to the parser: it must never
// panic, and a secret it rejects must not show in the error.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(kubeconfigText("ctx1", "    server: https://10.0.0.1:6443\n", "    token: "+secretToken)))
	f.Add([]byte(kubeconfigText("ctx1", "    server: https://h\n    certificate-authority-data: !!!\n", "    client-key-data: eA==")))
	f.Add([]byte("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: 'http://h'}}]\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data, t.TempDir(), ConfigOptions{})
		if err != nil {
			if strings.Contains(err.Error(), secretToken) {
				t.Errorf("error shows the token: %v", err)
			}
			return
		}
		if cfg.Server == "" {
			t.Errorf("accepted a config without a server: %+v", cfg)
		}
		if _, err := New(cfg); err != nil {
			t.Errorf("ParseConfig accepted what New refuses: %v", err)
		}
	})
}

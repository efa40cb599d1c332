package pai

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, data string
		want       Config
		err        string // of ReadConfig
		login      string // of CheckLogin
	}{
		{name: "full", data: "user: pai\npassword: 'p: w'\nssh_key_file_path: /k\ndocker_image_tag: v1.10\ndocker_registry_namespace: lab/openpai\nother: [x]\n",
			want: Config{User: "pai", Password: "p: w", SSHKeyFile: "/k", ImageTag: "v1.10", RegistryNamespace: "lab/openpai"}},
		{name: "numbers as written", data: "user: 1000\npassword: 0123\ndocker_image_tag: 1.10\n",
			want: Config{User: "1000", Password: "0123", ImageTag: "1.10"}},
		{name: "key instead of password", data: "user: pai\nssh_key_file_path: /k\n", want: Config{User: "pai", SSHKeyFile: "/k"}},
		{name: "no user", data: "password: x\n", want: Config{Password: "x"}, login: "user is required"},
		{name: "no password", data: "user: pai\n", want: Config{User: "pai"}, login: "password (or ssh_key_file_path) is required"},
		{name: "user a list", data: "user: [a]\n", err: "config.yaml: yaml: unmarshal errors"},
		{name: "not YAML", data: "user: [\n", err: "config.yaml: yaml: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(p, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := ReadConfig(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), p) {
					t.Fatalf("error %v, want %s: %q", err, p, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *c != tc.want {
				t.Errorf("read %+v, want %+v", *c, tc.want)
			}
			if err := c.CheckLogin(); (tc.login == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.login)) {
				t.Errorf("CheckLogin: %v, want %q", err, tc.login)
			}
		})
	}
	if _, err := ReadConfig(filepath.Join(dir, "none.yaml")); err == nil || !strings.HasPrefix(err.Error(), "reading config.yaml: ") {
		t.Errorf("missing file: %v", err)
	}
}

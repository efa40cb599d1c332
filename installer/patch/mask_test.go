package patch

import (
	"strings"
	"testing"
)

// TestDiffMasksSecrets: the README's starting config.yaml (user, password,
// docker_image_tag) gains lines, so the password is diff context; --dry-run
// prints the diff, which must not show it.
func TestDiffMasksSecrets(t *testing.T) {
	old := "user: admin\npassword: s3cr3t-Pa55\ndocker_image_tag: v1.8.0\n"
	new := old + "docker_registry_domain: 127.0.0.1:5000\n"
	r := &Result{Changes: []Change{
		{Path: "/etc/pai/config.yaml", Old: []byte(old), New: []byte(new)},
		{Path: "/etc/pai/other.yaml", Old: []byte("x: 1\n  registry_password: 'hunter2'\ntoken: abc\n"), New: []byte("x: 2\n  registry_password: 'hunter2'\ntoken: abc\n")},
	}}
	d := r.Diff()
	for _, secret := range []string{"s3cr3t-Pa55", "hunter2", "abc"} {
		if strings.Contains(d, secret) {
			t.Errorf("the diff shows %q:\n%s", secret, d)
		}
	}
	for _, want := range []string{"password: ********", "docker_registry_domain: 127.0.0.1:5000", "docker_image_tag: v1.8.0", "x: 2"} {
		if !strings.Contains(d, want) {
			t.Errorf("the diff lacks %q:\n%s", want, d)
		}
	}
	// Applying still writes the real bytes.
	if !strings.Contains(string(r.Changes[0].New), "s3cr3t-Pa55") {
		t.Error("masking changed what Apply writes")
	}
}

package patch

import (
	"strings"
	"testing"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/manifests/yamltext"
)

// TestPatchRequirement checks the rewrite of the requirement checks'
// nslookup tasks, line by line.
func TestPatchRequirement(t *testing.T) {
	const base = "http://10.0.0.9:5000"
	check := `"` + mirrorCheck(base) + `"`
	for _, tc := range []struct {
		name, in, want string
		n              int
	}{
		{"quoted variable", "- name: x\n  raw: \"nslookup {{openpai_registry}}\"\n  register: r\n",
			"- name: x\n  raw: " + check + "\n  register: r\n", 1},
		{"plain host", "  raw: nslookup quay.io\n", "  raw: " + check + "\n", 1},
		{"single quotes", "  raw: 'nslookup {{ dev_box_registry }}'\n", "  raw: " + check + "\n", 1},
		{"list item", "- raw: nslookup gcr.io\n", "- raw: " + check + "\n", 1},
		{"crlf and no final newline", "a: 1\r\n  raw: nslookup quay.io\r\n  raw: nslookup gcr.io", "a: 1\r\n  raw: " + check + "\r\n  raw: " + check, 2},
		{"already patched", "  raw: " + check + "\n", "  raw: " + check + "\n", 1},
		{"another mirror before", "  raw: \"" + mirrorCheck("https://old.lab:8443") + "\"\n", "  raw: " + check + "\n", 1},
		{"other raw tasks", "  raw: pgrep ntpd\n  raw: \"nslookup-like {{x}}\"\n  shell: nslookup quay.io\n", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n := patchRequirement([]byte(tc.in), base)
			want := tc.want
			if want == "" {
				want = tc.in
			}
			if string(got) != want || n != tc.n {
				t.Errorf("got %d checks,\n%q\nwant %d,\n%q", n, got, tc.n, want)
			}
		})
	}
	if got := mirrorCheck("https://m.lab:8443"); !strings.Contains(got, "curl -fsSk ") || !strings.Contains(got, "--no-check-certificate") ||
		!mirrorRaw.MatchString(`  raw: "`+got+`"`) {
		t.Errorf("https check %q", got)
	}
}

// TestPlanDockerApt: with the bundle's Docker repository, kubespray's
// docker_ubuntu_repo_* variables point at the mirror; a second Plan
// changes nothing, and one without DockerApt leaves them.
func TestPlanDockerApt(t *testing.T) {
	dir := fixture(t)
	opts := Options{Mirror: testMirror, DockerApt: &DockerApt{Path: "/download.docker.com/linux/ubuntu", KeyPath: "/download.docker.com/linux/ubuntu/gpg"}}
	r, err := Plan(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(r); err != nil {
		t.Fatal(err)
	}
	config := string(readFile(t, r.Changes[0].Path))
	for _, want := range []string{
		`  docker_ubuntu_repo_base_url: "http://` + testMirror + `/download.docker.com/linux/ubuntu"` + "\n",
		`  docker_ubuntu_repo_gpgkey: "http://` + testMirror + `/download.docker.com/linux/ubuntu/gpg"` + "\n",
	} {
		if !strings.Contains(config, want) {
			t.Errorf("config.yaml lacks %q:\n%s", want, config)
		}
	}
	if !strings.Contains(r.Changes[0].Why, "docker-ce") {
		t.Errorf("why: %s", r.Changes[0].Why)
	}
	for _, o := range []Options{opts, {Mirror: testMirror}} {
		again, err := Plan(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Changes) != 0 {
			t.Errorf("Plan after Apply (docker apt %v) has changes:\n%s", o.DockerApt != nil, again.Diff())
		}
	}

	// A value of the user's own is replaced, with a warning.
	dir = fixture(t)
	p := dir + "/" + pai.ConfigFile
	writeFile(t, p, string(readFile(t, p))+"docker_ubuntu_repo_base_url: \"https://mirrors.aliyun.com/docker-ce/linux/ubuntu\"\n")
	r, err = Plan(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(r.Warnings, "\n"); !strings.Contains(w, "replaced top-level docker_ubuntu_repo_base_url") {
		t.Errorf("warnings:\n%s", w)
	}
}

func FuzzPatchRequirement(f *testing.F) {
	f.Add([]byte("- name: x\n  raw: \"nslookup {{openpai_registry}}\"\n  register: r\n"), false)
	f.Add([]byte("  raw: nslookup quay.io\r\n  raw: 'nslookup gcr.io'"), true)
	f.Add([]byte("  raw: \""+mirrorCheck("http://old:1")+"\"\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, tls bool) {
		base := "http://10.0.0.9:5000"
		if tls {
			base = "https://m.lab:8443"
		}
		out, n := patchRequirement(data, base)
		if len(yamltext.Lines(out)) != len(yamltext.Lines(data)) {
			t.Fatalf("line count changed: %q -> %q", data, out)
		}
		again, m := patchRequirement(out, base)
		if string(again) != string(out) || m != n {
			t.Fatalf("not idempotent: %q -> %q -> %q (%d, %d checks)", data, out, again, n, m)
		}
		if n == 0 && string(out) != string(data) {
			t.Fatalf("changed without a check: %q -> %q", data, out)
		}
	})
}

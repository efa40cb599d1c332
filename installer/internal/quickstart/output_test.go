package quickstart

import (
	"bytes"
	"strings"
	"testing"
)

// TestRedactor: secrets are masked wherever the writes split them, and the
// longest of overlapping secrets wins.
func TestRedactor(t *testing.T) {
	secretsList := secrets([]string{"hunter2", "abc"}, []string{"ANSIBLE_BECOME_PASS=s3cr3t-s3cr3t", "HOME=/home/pai", "GH_TOKEN=s3cr3t"})
	for _, want := range [][]string{{"s3cr3t-s3cr3t", "hunter2", "s3cr3t"}} {
		if strings.Join(secretsList, ",") != strings.Join(want, ",") {
			t.Fatalf("secrets = %q, want %q (the env's secret-looking values, longest first, none too short)", secretsList, want)
		}
	}
	for _, in := range []string{
		"password: hunter2\n",
		"hunter2hunter2 and s3cr3t-s3cr3t, s3cr3t; /home/pai\n",
		"no secret at all",
		"ends with a part of one: hunt",
		"hunter",
	} {
		want := strings.NewReplacer("s3cr3t-s3cr3t", mask, "hunter2", mask, "s3cr3t", mask).Replace(in)
		for split := 0; split <= len(in); split++ {
			for split2 := split; split2 <= len(in); split2++ {
				var out bytes.Buffer
				r := newRedactor(&out, secretsList)
				r.Write([]byte(in[:split]))
				r.Write([]byte(in[split:split2]))
				r.Write([]byte(in[split2:]))
				r.Flush()
				if out.String() != want {
					t.Fatalf("%q split at %d,%d: got %q, want %q", in, split, split2, out.String(), want)
				}
			}
		}
	}
}

// TestParseStatus: ansible's banners and the scripts' step lines, and
// nothing else.
func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		line  string
		phase string
		text  string
	}{
		{"PLAY [k8s-cluster:etcd:calico-rr] ***************************", PhasePlay, "k8s-cluster:etcd:calico-rr"},
		{"TASK [kubernetes/master : kubeadm | Initialize first master] ***", PhaseTask, "kubernetes/master : kubeadm | Initialize first master"},
		{"TASK [Gathering Facts] *********", PhaseTask, "Gathering Facts"},
		{"RUNNING HANDLER [container-engine/docker : restart docker] ****", PhaseTask, "container-engine/docker : restart docker"},
		{"Performing docker-cache config distribution...", PhaseScript, "Performing docker-cache config distribution"},
		{"Starting OpenPAI service...", PhaseScript, "Starting OpenPAI service"},
		{"PLAY RECAP *********************************************************************", "", ""},
		{"ok: [pai-master]", "", ""},
		{"  indented...", "", ""},
		{"fatal: [pai-master]: FAILED! => {...}", "", ""},
	} {
		st, ok := parseStatus(tc.line)
		if ok != (tc.phase != "") || st.Phase != tc.phase || st.Text != tc.text {
			t.Errorf("parseStatus(%q) = %+v %v, want %s %q", tc.line, st, ok, tc.phase, tc.text)
		}
	}
}

// TestCleanLine: progress bars redrawn with \r, colours and long lines.
func TestCleanLine(t *testing.T) {
	for in, want := range map[string]string{
		"Downloading  10%\rDownloading 100%\r": "Downloading 100%",
		"\x1b[0;32mok: [pai-master]\x1b[0m  ":  "ok: [pai-master]",
		"windows line\r":                       "windows line",
		strings.Repeat("x", 3000):              strings.Repeat("x", maxShownBytes) + "…",
	} {
		if got := cleanLine([]byte(in)); got != want {
			t.Errorf("cleanLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRing keeps the last lines, oldest first.
func TestRing(t *testing.T) {
	r := newRing(3)
	for _, s := range []string{"a", "b"} {
		r.add(s)
	}
	if got := strings.Join(r.last(), ","); got != "a,b" {
		t.Errorf("last = %s", got)
	}
	for _, s := range []string{"c", "d", "e"} {
		r.add(s)
	}
	if got := strings.Join(r.last(), ","); got != "c,d,e" {
		t.Errorf("last = %s", got)
	}
}

// TestLooksLikePrompt is the fallback where /proc cannot tell.
func TestLooksLikePrompt(t *testing.T) {
	for s, want := range map[string]bool{
		"Password: ":                true,
		"Continue? ":                true,
		"Are you sure (yes/no)":     true,
		"[default: pai]":            true,
		"> ":                        true,
		"":                          false,
		"Downloading 45%":           false,
		"Reading package lists... ": false,
	} {
		if got := looksLikePrompt(s); got != want {
			t.Errorf("looksLikePrompt(%q) = %v", s, got)
		}
	}
}

package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/apt/apttest"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

func TestSetNvidiaRuntime(t *testing.T) {
	for _, tc := range []struct {
		name, in      string
		changed       bool
		wantDefault   string
		wantRuntimes  []string
		wantErr       bool
		keepsMirrorOf string
	}{
		{name: "empty", in: "", changed: true, wantDefault: "nvidia", wantRuntimes: []string{"nvidia"}},
		{name: "mirror only", in: `{"registry-mirrors": ["http://m:5000"]}`, changed: true, wantDefault: "nvidia", wantRuntimes: []string{"nvidia"}, keepsMirrorOf: "http://m:5000"},
		{name: "another default kept", in: `{"default-runtime": "runc"}`, changed: true, wantDefault: "runc", wantRuntimes: []string{"nvidia"}},
		{name: "other runtimes kept", in: `{"runtimes": {"kata": {"path": "kata-runtime"}}}`, changed: true, wantDefault: "nvidia", wantRuntimes: []string{"kata", "nvidia"}},
		{name: "already set", in: `{"default-runtime": "nvidia", "runtimes": {"nvidia": {"path": "/usr/bin/nvidia-container-runtime", "runtimeArgs": []}}}`, wantDefault: "nvidia", wantRuntimes: []string{"nvidia"}},
		{name: "runtimes not an object", in: `{"runtimes": ["nvidia"]}`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := SetNvidiaRuntime([]byte(tc.in))
			if tc.wantErr {
				var de *DaemonJSONError
				if !errors.As(err, &de) {
					t.Fatalf("want a DaemonJSONError, got %v", err)
				}
				return
			}
			if err != nil || changed != tc.changed {
				t.Fatalf("changed %v, err %v", changed, err)
			}
			if !changed && string(out) != tc.in {
				t.Errorf("unchanged but rewritten:\n%s", out)
			}
			var m struct {
				Default  string                     `json:"default-runtime"`
				Runtimes map[string]json.RawMessage `json:"runtimes"`
				Mirrors  []string                   `json:"registry-mirrors"`
			}
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if m.Default != tc.wantDefault || len(m.Runtimes) != len(tc.wantRuntimes) {
				t.Errorf("default %q, runtimes %v", m.Default, m.Runtimes)
			}
			for _, r := range tc.wantRuntimes {
				if _, ok := m.Runtimes[r]; !ok {
					t.Errorf("runtimes lack %s: %s", r, out)
				}
			}
			if tc.keepsMirrorOf != "" && (len(m.Mirrors) != 1 || m.Mirrors[0] != tc.keepsMirrorOf) {
				t.Errorf("registry-mirrors %v", m.Mirrors)
			}
			if changed {
				if again, ch, _ := SetNvidiaRuntime(out); ch || string(again) != string(out) {
					t.Errorf("a second pass changed it:\n%s", again)
				}
			}
		})
	}
}

// TestPrepareNvidiaRuntime: a real sshd GPU worker without the nvidia
// runtime, whose release has NVIDIA's flat repository in the bundle (in
// its sources): preflight warns instead of failing, prepare installs
// nvidia-container-runtime from the mirror (the real apt-get, signature
// checked; only downloading, as the node's root is the host's) and makes
// nvidia docker's default runtime in daemon.json, keeping the mirror.
func TestPrepareNvidiaRuntime(t *testing.T) {
	bundletest.Tool(t, "apt-get")
	bundletest.Tool(t, "gpgv")
	mirror := newMirror(t)
	arch := hostArch(t)
	repo, err := apttest.New(apttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.AddFlat([]apttest.Package{
		{Name: "nvidia-container-runtime", Version: "3.14.0-1", Architecture: arch, Depends: "nvidia-container-toolkit (>= 1.14.0)"},
		{Name: "nvidia-container-toolkit", Version: "1.14.0-1", Architecture: arch},
	}); err != nil {
		t.Fatal(err)
	}
	const prefix = "/nvidia.github.io/libnvidia-container/stable/deb/" + "amd64"
	for _, p := range repo.Paths() {
		data, _ := repo.File(p)
		// apt asks a flat repository for "URL/./NAME", as paimirror
		// serve answers (fileserver's own tests); this test mirror
		// matches exactly.
		mirror.serve(prefix+"/./"+p, data)
		mirror.serve(prefix+"/"+p, data)
	}
	a := &Apt{Repositories: []AptRepository{{Name: "nvidia-container", Target: "ubuntu-18.04", Prefix: prefix, Suites: []string{FlatSuite},
		Architectures: []string{arch}, Sources: true, Packages: []string{"nvidia-container-runtime=3.14.0-1", "nvidia-container-toolkit=1.14.0-1"}}}}
	gpu := newNode(t, nodeSpec{hostname: "pai-gpu1", gpu: true, daemonJSON: strp(""),
		apt: map[string]string{"trusted.gpg.d/nvidia.asc": string(repo.Key())}})
	keys, _ := openKeys(t)
	nodes := []Node{{Name: "pai-gpu1", Addr: gpu.ip, Role: Worker, GPU: true}}

	tab, err := Preflight(context.Background(), nodes, testAuth(), keys, PreflightOptions{Mirror: Mirror{Addr: mirror.addr}, Apt: a})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tab.Results {
		if r.Check == CheckNvidia && (r.Status != Warn || !strings.Contains(r.Detail, "installs nvidia-container-runtime=3.14.0-1 from the mirror")) {
			t.Errorf("preflight nvidia: %+v", r)
		}
	}

	opts := PrepareOptions{Mirror: Mirror{Addr: mirror.addr}, Apt: a, aptInstallArgs: []string{"--download-only"}}
	results, err := Prepare(context.Background(), nodes, testAuth(), keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := results[0]
	if r.NvidiaRuntimeInstalled != "nvidia-container-runtime=3.14.0-1" || !r.NvidiaRuntimeSet || !r.Changed {
		t.Errorf("prepare: %+v", r)
	}
	var m struct {
		Default  string                     `json:"default-runtime"`
		Runtimes map[string]json.RawMessage `json:"runtimes"`
		Mirrors  []string                   `json:"registry-mirrors"`
	}
	if err := json.Unmarshal([]byte(gpu.run(t, keys, "cat "+DaemonJSONPath)), &m); err != nil {
		t.Fatal(err)
	}
	if m.Default != "nvidia" || m.Runtimes["nvidia"] == nil || len(m.Mirrors) != 1 {
		t.Errorf("daemon.json: %+v", m)
	}
	debs := gpu.run(t, keys, "ls /var/cache/apt/archives")
	for _, want := range []string{"nvidia-container-runtime_3.14.0-1_", "nvidia-container-toolkit_1.14.0-1_"} {
		if !strings.Contains(debs, want) {
			t.Errorf("downloaded\n%s\nwithout %s", debs, want)
		}
	}
}

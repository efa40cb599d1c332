package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/installer"
	"github.com/paimirror/paimirror/installer/nodes"
	"github.com/paimirror/paimirror/installer/steps"
	"github.com/paimirror/paimirror/installer/storage"
)

// TestRenderPrepared: what prepare did on each machine, one line per
// thing, exactly as the installer printed it before it returned data.
func TestRenderPrepared(t *testing.T) {
	p := &installer.Prepared{RegistryCAPath: nodes.CAPath("harbor.lab:8443"), Nodes: []nodes.PrepareResult{
		{Node: "lab-master", Changed: true, Backup: "/etc/docker/daemon.json.paimirror-orig", Restarted: true,
			Apt:                 &nodes.AptResult{Target: "ubuntu-18.04", BackedUp: true, Updated: true, Kept: []string{"/etc/apt/sources.list.d/x.list"}, Warnings: []string{"W: something"}},
			RegistryCAInstalled: true, RegistryInsecure: true, RegistryAuth: []string{"/root/.docker/config.json", "/var/lib/kubelet/config.json"}},
		{Node: "lab-gpu1", DockerInstalled: []string{"docker-ce=5:18.09.7", "containerd.io=1.2"}, NvidiaRuntimeInstalled: "nvidia-container-runtime=3.1", NvidiaRuntimeSet: true,
			Apt: &nodes.AptResult{Target: "ubuntu-18.04"}},
		{Node: "lab-gpu2", Err: errors.New("node lab-gpu2: boom"), Apt: &nodes.AptResult{Target: "ubuntu-20.04", Skipped: "the bundle has no apt repository for ubuntu-20.04"}},
		{Node: "dev-box"},
	}}
	want := `lab-master           trusts the registry's CA (/etc/docker/certs.d/harbor.lab:8443/ca.crt)
lab-master           daemon.json: the registry is an insecure (plain HTTP) registry
lab-master           registry credentials in /root/.docker/config.json
lab-master           registry credentials in /var/lib/kubelet/config.json
lab-master           daemon.json updated (backup /etc/docker/daemon.json.paimirror-orig), docker restarted: true
lab-master           apt (ubuntu-18.04) uses the mirror (/etc/apt/sources.list.d/paimirror.list; the original sources are kept in /etc/apt/paimirror-backup); apt-get update ok
lab-master           warning: apt: /etc/apt/sources.list.d/x.list was left in place (a different file of that name is kept in /etc/apt/paimirror-backup already)
lab-master           apt-get update: W: something
lab-gpu1             had no docker: installed docker-ce=5:18.09.7 containerd.io=1.2 from the mirror
lab-gpu1             GPU worker without the nvidia runtime: installed nvidia-container-runtime=3.1 from the mirror
lab-gpu1             daemon.json: nvidia is docker's default runtime
lab-gpu1             already uses the mirror
lab-gpu1             apt (ubuntu-18.04) already uses the mirror
lab-gpu2             FAILED: node lab-gpu2: boom
lab-gpu2             warning: apt: the bundle has no apt repository for ubuntu-20.04
dev-box              already uses the mirror
`
	if got := renderResult(p); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestRenderRestored: what --restore-apt did on each machine.
func TestRenderRestored(t *testing.T) {
	got := renderResult([]nodes.RestoreAptResult{
		{Node: "lab-master", Restored: []string{"a", "b"}, Removed: []string{"c"}, Left: []string{"/etc/apt/paimirror-backup/x"}},
		{Node: "lab-gpu1", NoBackup: true},
		{Node: "lab-gpu2", Err: errors.New("node lab-gpu2: boom")},
	})
	want := `lab-master           restored 2 file(s), removed paimirror's 1; run apt-get update once the original sources are reachable
lab-master           warning: /etc/apt/paimirror-backup/x is still in the backup directory
lab-gpu1             nothing to restore (no /etc/apt/paimirror-backup: prepare did not change its apt, or it was restored already)
lab-gpu2             FAILED: node lab-gpu2: boom
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestInstallReporter: the events of an install, the storage step's own
// steps among them, become the lines they always were: steps on standard
// error, results and the storage steps' ends on standard output, the
// storage steps' starts and the scripts' status on the terminal's status
// line only, a failure even with --quiet.
func TestInstallReporter(t *testing.T) {
	events := []steps.Event{
		{Step: "patch", N: 1, Total: 7, Kind: steps.UpToDate},
		{Step: "preflight", N: 2, Total: 7, Kind: steps.NotSelected},
		{Step: "kubespray", N: 4, Total: 7, Kind: steps.Started},
		{Step: "kubespray", Kind: steps.Status, Text: "k8s-cluster"},
		{Step: "kubespray", N: 4, Total: 7, Kind: steps.Done, Elapsed: 61400 * time.Millisecond},
		{Kind: steps.Warning, Text: "the mirror at m serves another bundle"},
		{Step: "storage", N: 7, Total: 7, Kind: steps.Started},
		{Step: storage.StepCheck, Parent: "storage", N: 1, Total: 6, Kind: steps.Started, Text: "check the storage node"},
		{Step: storage.StepCheck, Parent: "storage", N: 1, Total: 6, Kind: steps.Status, Text: "checking nfs-common on 2 workers"},
		{Step: storage.StepCheck, Parent: "storage", N: 1, Total: 6, Kind: steps.Done, Text: "nfs-common on 2 workers"},
		{Step: storage.StepGrant, Parent: "storage", N: 5, Total: 6, Kind: steps.Failed, Err: errors.New("login")},
		{Step: "storage", N: 7, Total: 7, Kind: steps.Done, Elapsed: time.Second, Result: &storage.Result{Instructions: "mount it"}},
		{Step: "verify", N: 6, Total: 7, Kind: steps.Failed, Err: errors.New("unhealthy")},
		{Step: installer.StepRestoreApt, Kind: steps.Started, Text: "restoring apt's original sources"},
		{Step: installer.StepRestoreApt, Kind: steps.Done, Text: "apt's original sources are back", Result: []nodes.RestoreAptResult{{Node: "n1", NoBackup: true}}},
	}
	for _, tc := range []struct {
		name       string
		tty, quiet bool
		stdout     string
		stderr     string
	}{
		{
			name:   "plain",
			stdout: "  1/6 check: nfs-common on 2 workers\nmount it\nn1                   nothing to restore (no /etc/apt/paimirror-backup: prepare did not change its apt, or it was restored already)\n",
			stderr: "[1/7] patch: already done\n[4/7] kubespray\nkubespray done in 1m1s\nwarning: the mirror at m serves another bundle\n[7/7] storage\nstorage done in 1s\nverify failed\nrestoring apt's original sources\napt's original sources are back\n",
		},
		{
			name: "terminal", tty: true,
			stdout: "  1/6 check: nfs-common on 2 workers\nmount it\nn1                   nothing to restore (no /etc/apt/paimirror-backup: prepare did not change its apt, or it was restored already)\n",
			stderr: "[1/7] patch: already done\n[4/7] kubespray\n\r\033[K  k8s-cluster\r\033[Kkubespray done in 1m1s\nwarning: the mirror at m serves another bundle\n[7/7] storage\n" +
				"\r\033[K  1/6 check the storage node\r\033[Kstorage done in 1s\nverify failed\nrestoring apt's original sources\napt's original sources are back\n",
		},
		{
			name: "quiet", tty: true, quiet: true,
			stdout: "  1/6 check: nfs-common on 2 workers\nmount it\nn1                   nothing to restore (no /etc/apt/paimirror-backup: prepare did not change its apt, or it was restored already)\n",
			stderr: "warning: the mirror at m serves another bundle\nverify failed\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			r := &installReporter{g: &globalOptions{quiet: tc.quiet, stdout: &stdout, stderr: &stderr}, tty: tc.tty}
			for _, e := range events {
				r.report(e)
			}
			r.endStatus()
			if stdout.String() != tc.stdout {
				t.Errorf("stdout:\n%q\nwant:\n%q", stdout.String(), tc.stdout)
			}
			if stderr.String() != tc.stderr {
				t.Errorf("stderr:\n%q\nwant:\n%q", stderr.String(), tc.stderr)
			}
		})
	}
}

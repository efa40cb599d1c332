package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/installer/nodes"
)

// TestCheck proves step 1 stops before anything is changed: a node that is
// not a worker, a missing file paictl needs, and workers without
// nfs-common (asked with dpkg-query through the Runner), each with a hint.
func TestCheck(t *testing.T) {
	base := func(t *testing.T) Options {
		return Options{
			ClusterCfgDir: writeClusterCfg(t, testLayout("pai-worker1"), testServices),
			Kubeconfig:    "/nonexistent/kubeconfig",
			AdminPassword: testPassword,
			DevBox:        failingDevBox{t},
		}
	}
	for _, tt := range []struct {
		name    string
		node    string
		runner  *fakeRunner
		prepare func(dir string)
		is      error
		msg     string
		hint    string
	}{
		{name: "master", node: "pai-master", is: ErrNotWorker,
			msg:  "storage step 1 (check): storage node pai-master is the master: not a worker (the guide: the storage server must be a worker)",
			hint: "choose one of the workers of %CFG%/layout.yaml: pai-worker1, pai-worker9"},
		{name: "unknown node", node: "worker7", is: ErrNoSuchNode,
			msg:  "storage step 1 (check): storage node worker7: not a machine of layout.yaml %CFG%/layout.yaml",
			hint: "choose one of the workers of %CFG%/layout.yaml: pai-worker1, pai-worker9"},
		{name: "no config.yaml", node: "pai-worker1", prepare: func(dir string) { os.Remove(filepath.Join(dir, "config.yaml")) },
			msg: "storage step 1 (check): paictl config push needs config.yaml in %CFG%: stat %CFG%/config.yaml: no such file or directory"},
		{name: "nfs-common missing", node: "pai-worker1",
			runner: &fakeRunner{answers: map[string]fakeAnswer{
				"pai-worker1": {out: "unknown ok not-installed\n"},
				"pai-worker9": {out: "", status: 1},
			}},
			msg:  "storage step 1 (check): nfs-common is not installed on pai-worker1, pai-worker9",
			hint: "install it on those workers (sudo apt-get install -y nfs-common; offline: from the Ubuntu install media or a local apt mirror), make sure they can be reached over SSH, and run again"},
		{name: "worker unreachable", node: "pai-worker1",
			runner: &fakeRunner{answers: map[string]fakeAnswer{
				"pai-worker1": {out: "deinstall ok config-files\n"},
				"pai-worker9": {err: &nodes.UnreachableError{Node: "pai-worker9", Addr: "10.99.0.9:22", Err: errors.New("connection refused")}},
			}},
			msg: "storage step 1 (check): nfs-common is not installed on pai-worker1; cannot check nfs-common on pai-worker9: node pai-worker9: cannot reach ssh at 10.99.0.9:22: connection refused"},
		{name: "dpkg-query broken", node: "pai-worker1",
			runner: &fakeRunner{answers: map[string]fakeAnswer{"pai-worker9": {status: 2}}},
			msg:    "storage step 1 (check): cannot check nfs-common on pai-worker9: dpkg-query exited with status 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := base(t)
			opts.Node = tt.node
			if tt.prepare != nil {
				tt.prepare(opts.ClusterCfgDir)
			}
			r := tt.runner
			if r == nil {
				r = &fakeRunner{}
			}
			opts.Runner = r
			res, err := Setup(t.Context(), opts)
			var se *StepError
			if !errors.As(err, &se) || se.Step != StepCheck {
				t.Fatalf("got %v", err)
			}
			cfg := opts.ClusterCfgDir
			if want := strings.ReplaceAll(tt.msg, "%CFG%", cfg); err.Error() != want {
				t.Errorf("error\n %q\nwant\n %q", err, want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error is not %v", tt.is)
			}
			if want := strings.ReplaceAll(tt.hint, "%CFG%", cfg); tt.hint != "" && se.Hint != want {
				t.Errorf("hint\n %q\nwant\n %q", se.Hint, want)
			}
			if len(res.Steps) != 0 {
				t.Errorf("steps done: %+v", res.Steps)
			}
			if b, _ := os.ReadFile(filepath.Join(cfg, "layout.yaml")); string(b) != testLayout("pai-worker1") {
				t.Error("layout.yaml changed")
			}
			if tt.runner != nil {
				slices.Sort(r.calls)
				want := []string{
					`pai-worker1: dpkg-query -W -f='${Status}\n' nfs-common`,
					`pai-worker9: dpkg-query -W -f='${Status}\n' nfs-common`,
				}
				if !slices.Equal(r.calls, want) {
					t.Errorf("runner calls %q, want every worker asked (never the master): %q", r.calls, want)
				}
			}
		})
	}
}

// failingDevBox fails the test when used.
type failingDevBox struct{ t *testing.T }

func (d failingDevBox) Exec(ctx context.Context, args []string, stdin io.Reader, out io.Writer) error {
	d.t.Errorf("paictl ran: %q", args)
	return errors.New("no dev box in this test")
}

// TestOptions proves bad options are refused before anything is done.
func TestOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*Options)
		msg  string
	}{
		{"no node", func(o *Options) { o.Node = "" }, "the storage node is required"},
		{"relative share path", func(o *Options) { o.SharePath = "share" }, `share path "share" is not a clean absolute path`},
		{"share path with a quote", func(o *Options) { o.SharePath = `/sh"are` }, "is not a clean absolute path"},
		{"unclean nfs path", func(o *Options) { o.NFSPath = "/data/../x" }, `nfs path "/data/../x"`},
		{"bad name", func(o *Options) { o.Name = "NFS_Storage" }, `storage name "NFS_Storage" is not a valid Kubernetes name`},
		{"bad group", func(o *Options) { o.Groups = []string{"default", "team-a"} }, `group "team-a" is not an OpenPAI group name`},
		{"no password", func(o *Options) { o.AdminPassword = "" }, "the password of OpenPAI admin admin is required"},
		{"rest-server not a URL", func(o *Options) { o.RestServer = "10.0.0.1/rest-server" }, "is not an http:// or https:// URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Node: "pai-worker1", AdminPassword: "x", ClusterCfgDir: "/nonexistent", Kubeconfig: "/nonexistent"}
			tt.mod(&opts)
			_, err := Setup(t.Context(), opts)
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v, want ErrInvalidOptions with %q", err, tt.msg)
			}
		})
	}
}

// TestNoKubeconfig proves a kubeconfig that cannot be read stops the
// restart step (after the configuration is edited, which a rerun finds
// done) with a hint naming the file pai leaves.
func TestNoKubeconfig(t *testing.T) {
	cfg := writeClusterCfg(t, testLayout("pai-worker1"), testServices)
	opts := Options{Node: "pai-worker1", ClusterCfgDir: cfg, Kubeconfig: filepath.Join(cfg, "missing"),
		AdminPassword: testPassword, Runner: &fakeRunner{}, DevBox: failingDevBox{t}}
	res, err := Setup(t.Context(), opts)
	var se *StepError
	if !errors.As(err, &se) || se.Step != StepRestart || !strings.Contains(se.Hint, "~/pai-deploy/kube/config") {
		t.Fatalf("got %v (%+v)", err, se)
	}
	if len(res.Steps) != 2 || !res.Steps[1].Changed {
		t.Errorf("steps done: %+v", res.Steps)
	}
	res, err = Setup(t.Context(), opts)
	if !errors.As(err, &se) || se.Step != StepRestart || res.Steps[1].Changed {
		t.Errorf("rerun: %v, %+v", err, res.Steps)
	}
}

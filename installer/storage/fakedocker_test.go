package storage

// The test double for docker: this test binary, linked as "docker" into a
// directory put first on PATH, so Docker (the default DevBox) runs it as it
// would run the real docker. TestMain turns it into the double when
// fakeDockerEnv names its state directory.
//
// It plays the dev-box container and the paictl.py inside it, as far as
// storage setup sees them:
//   - `docker inspect --format {{.State.Running}} NAME`, `docker start
//     NAME` and `docker run -itd ... --name=NAME IMAGE` against the
//     container's state (running, stopped or missing);
//   - `docker exec -i -w /mnt/pai NAME ./paictl.py ...`: config get-id
//     prints pai's log line with the cluster-id; config push, service stop
//     and service start print ClusterIDPrompt and read the answer from
//     stdin, failing as paictl does on a wrong one. push copies the
//     cluster configuration directory (the host side of
//     /cluster-configuration) as the pai-configuration ConfigMap would
//     hold it; stop deletes the storage-manager pods; start creates a
//     storage-manager pod, Running, on every pai-storage machine of the
//     pushed layout.yaml, with the pushed localpath, in the test's real
//     API server, as the DaemonSet and a kubelet would.
//
// Every call is appended to calls.jsonl: its arguments and its stdin.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const fakeDockerEnv = "PAIMIRROR_TEST_FAKE_DOCKER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(fakeDockerEnv); dir != "" {
		os.Exit(fakeDocker(dir, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// dockerState is the double's state.json.
type dockerState struct {
	Container string `json:"container"`
	// State is "running", "stopped" or "missing".
	State string `json:"state"`
	// ClusterID is the id in the pai-cluster-id ConfigMap; "" when unset.
	ClusterID string `json:"clusterID"`
	// CfgDir is the host directory mounted at /cluster-configuration.
	CfgDir string `json:"cfgDir"`
	// API, Token and CA reach the test's API server.
	API, Token string
	CA         []byte
	// Fail makes the command whose arguments contain it exit 1.
	Fail string `json:"fail"`
	// NoPods makes service start create no pod.
	NoPods bool `json:"noPods"`
}

// dockerCall is one line of calls.jsonl.
type dockerCall struct {
	Args  []string `json:"args"`
	Stdin string   `json:"stdin"`
}

func (c dockerCall) String() string { return strings.Join(c.Args, " ") }

// fakeDockerDir sets the double up for a test: state.json, PATH, and the
// environment variable that makes the test binary the double.
func fakeDockerDir(t *testing.T, st dockerState) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(bin, "docker")); err != nil {
		t.Fatal(err)
	}
	writeState(t, dir, st)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(fakeDockerEnv, dir)
	return dir
}

func writeState(t *testing.T, dir string, st dockerState) {
	t.Helper()
	b, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(dir, "state.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readState(t *testing.T, dir string) dockerState {
	t.Helper()
	var st dockerState
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// dockerCalls returns the calls so far and forgets them.
func dockerCalls(t *testing.T, dir string) []dockerCall {
	t.Helper()
	p := filepath.Join(dir, "calls.jsonl")
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(p)
	var calls []dockerCall
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var c dockerCall
		if err := json.Unmarshal(line, &c); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c)
	}
	return calls
}

// fakeDocker is the double's main.
func fakeDocker(dir string, args []string) int {
	d := &dockerDouble{dir: dir, out: os.Stdout, errOut: os.Stderr, in: bufio.NewReader(os.Stdin)}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err == nil {
		err = json.Unmarshal(b, &d.st)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake docker:", err)
		return 125
	}
	// Record the call with its stdin: for exec, what paictl would read.
	call := dockerCall{Args: args}
	if len(args) > 0 && args[0] == "exec" {
		rest, _ := io.ReadAll(d.in)
		call.Stdin = string(rest)
		d.in = bufio.NewReader(bytes.NewReader(rest))
	}
	f, err := os.OpenFile(filepath.Join(dir, "calls.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		line, _ := json.Marshal(call)
		f.Write(append(line, '\n'))
		f.Close()
	}
	code := d.run(args)
	b, _ = json.Marshal(d.st)
	os.WriteFile(filepath.Join(dir, "state.json"), b, 0o644)
	return code
}

type dockerDouble struct {
	dir         string
	st          dockerState
	out, errOut io.Writer
	in          *bufio.Reader
}

func (d *dockerDouble) fail(code int, format string, args ...any) int {
	fmt.Fprintf(d.errOut, format+"\n", args...)
	return code
}

func (d *dockerDouble) run(args []string) int {
	if len(args) == 0 {
		return d.fail(125, "fake docker: no command")
	}
	if d.st.Fail != "" && strings.Contains(strings.Join(args, " "), d.st.Fail) {
		fmt.Fprintln(d.out, "2025-01-01 00:00:00,000 [ERROR] - deployment : something went wrong as asked by the test")
		return 1
	}
	name := d.st.Container
	switch {
	case slices.Equal(args, []string{"inspect", "--format", "{{.State.Running}}", name}):
		if d.st.State == "missing" {
			return d.fail(1, "Error: No such object: %s", name)
		}
		fmt.Fprintln(d.out, d.st.State == "running")
		return 0
	case slices.Equal(args, []string{"start", name}) && d.st.State == "stopped":
		d.st.State = "running"
		fmt.Fprintln(d.out, name)
		return 0
	case args[0] == "run" && d.st.State == "missing" && slices.Contains(args, "--name="+name):
		d.st.State = "running"
		fmt.Fprintln(d.out, "4f5e6d7c8b9a")
		return 0
	case len(args) >= 6 && slices.Equal(args[:5], []string{"exec", "-i", "-w", "/mnt/pai", name}):
		if d.st.State != "running" {
			return d.fail(1, "Error response from daemon: Container %s is not running", name)
		}
		return d.paictl(args[5:])
	}
	return d.fail(125, "fake docker: unexpected command: docker %s", strings.Join(args, " "))
}

func (d *dockerDouble) log(level, name, msg string) {
	fmt.Fprintf(d.out, "2025-01-01 00:00:00,000 [%s] - %s : %s\n", level, name, msg)
}

// ask prints the cluster-id prompt and checks the answer, as paictl does.
func (d *dockerDouble) ask() bool {
	if d.st.ClusterID == "" {
		d.log("ERROR", "deployment.confStorage.download", "No cluster_id found in your cluster, which should be done the first time you upload your configuration.")
		return false
	}
	fmt.Fprint(d.out, ClusterIDPrompt)
	line, err := d.in.ReadString('\n')
	if err != nil {
		fmt.Fprintln(d.out, "\nEOFError: EOF when reading a line")
		return false
	}
	if strings.TrimSuffix(line, "\n") != d.st.ClusterID {
		d.log("ERROR", "deployment.confStorage.download", "Ops, maybe you find the wrong cluster. Please check your input and the target cluster.")
		return false
	}
	d.log("INFO", "deployment.confStorage.download", "Congratulations: Cluster-id checking passed.")
	return true
}

func (d *dockerDouble) paictl(args []string) int {
	cmd := strings.Join(args, " ")
	pushed := filepath.Join(d.dir, "configmap")
	switch cmd {
	case "./paictl.py config get-id":
		if d.st.ClusterID == "" {
			d.log("INFO", "deployment.confStorage.get_cluster_id", "Cluster-id hasn't been set. You could set it when push the cluster configuration into cluster.")
		} else {
			d.log("INFO", "deployment.confStorage.get_cluster_id", "Cluster-id is: "+d.st.ClusterID)
		}
		return 0
	case "./paictl.py config push -p /cluster-configuration -m service":
		if d.st.ClusterID == "" {
			data, _ := os.ReadFile(filepath.Join(d.st.CfgDir, "services-configuration.yaml"))
			d.st.ClusterID = clusterID(data)
		}
		if !d.ask() {
			return 1
		}
		os.MkdirAll(pushed, 0o755)
		for _, f := range []string{"config.yaml", "layout.yaml", "services-configuration.yaml"} {
			b, err := os.ReadFile(filepath.Join(d.st.CfgDir, f))
			if err != nil {
				d.log("ERROR", "deployment.confStorage.synchronization", "Cannot find "+f+" in your config folder.")
				return 1
			}
			os.WriteFile(filepath.Join(pushed, f), b, 0o644)
		}
		d.log("INFO", "deployment.confStorage.synchronization", "Cluster Configuration synchronization from external storage is successful.")
		return 0
	case "./paictl.py service stop -n cluster-configuration storage-manager":
		if !d.ask() {
			return 1
		}
		if err := d.kube("DELETE", "/api/v1/namespaces/default/pods?labelSelector=app%3Dstorage-manager&gracePeriodSeconds=0", nil, nil); err != nil {
			return d.fail(1, "kubectl: %v", err)
		}
		return 0
	case "./paictl.py service start -n cluster-configuration storage-manager":
		if !d.ask() {
			return 1
		}
		if d.st.NoPods {
			return 0
		}
		var l struct {
			MachineList []map[string]any `yaml:"machine-list"`
		}
		var sc struct {
			SM struct {
				Localpath string `yaml:"localpath"`
			} `yaml:"storage-manager"`
		}
		lb, err1 := os.ReadFile(filepath.Join(pushed, "layout.yaml"))
		sb, err2 := os.ReadFile(filepath.Join(pushed, "services-configuration.yaml"))
		if err1 != nil || err2 != nil {
			d.log("ERROR", "deployment.confStorage.download", "The configuration doesn't exists on your cluster. Please upload it first.")
			return 1
		}
		if yaml.Unmarshal(lb, &l) != nil || yaml.Unmarshal(sb, &sc) != nil {
			return d.fail(1, "bad yaml")
		}
		if sc.SM.Localpath == "" {
			sc.SM.Localpath = "/share"
		}
		for _, m := range l.MachineList {
			if m["pai-storage"] != "true" {
				continue
			}
			host := fmt.Sprint(m["hostname"])
			pod := map[string]any{
				"metadata": map[string]any{
					"name":        "storage-manager-ds-" + host,
					"labels":      map[string]string{"app": "storage-manager"},
					"annotations": map[string]string{"localpath": sc.SM.Localpath, "nfsport": "2049", "smbport": "445"},
				},
				"spec": map[string]any{
					"nodeName":   host,
					"containers": []map[string]any{{"name": "storage-manager", "image": "openpai/storage-manager:v1.8.0"}},
				},
			}
			if err := d.kube("POST", "/api/v1/namespaces/default/pods", pod, nil); err != nil {
				return d.fail(1, "kubectl apply: %v", err)
			}
			status := map[string]any{"status": map[string]any{"phase": "Running"}}
			if err := d.kube("PATCH", "/api/v1/namespaces/default/pods/storage-manager-ds-"+host+"/status", status, nil); err != nil {
				return d.fail(1, "kubelet: %v", err)
			}
		}
		return 0
	}
	return d.fail(2, "fake paictl: unexpected command: %s", cmd)
}

// kube sends one request to the test's API server as its admin.
func (d *dockerDouble) kube(method, path string, body, out any) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(d.st.CA)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, d.st.API+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.st.Token)
	if method == "PATCH" {
		req.Header.Set("Content-Type", "application/merge-patch+json")
	} else if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

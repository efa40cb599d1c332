package kube_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/installer/kube"
	"github.com/paimirror/paimirror/installer/kube/kubetest"
)

// client loads the kubeconfig the cluster writes for auth and returns a
// client from it.
func client(t *testing.T, cluster *kubetest.Cluster, auth kubetest.Auth) *kube.Client {
	t.Helper()
	cfg, err := kube.LoadConfig(cluster.Kubeconfig(t, auth), kube.ConfigOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := kube.New(cfg, kube.WithPollInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClient proves the kubeconfig variants pai and kubectl write
// authenticate against a real API server, and that its refusals become
// typed errors carrying the API's message.
func TestClient(t *testing.T) {
	cluster := kubetest.Start(t, kubetest.Options{NoControllerManager: true})
	ctx := t.Context()

	for _, tt := range []struct {
		name string
		auth kubetest.Auth
	}{
		{"token with CA data", kubetest.AuthToken},
		{"client certificate data", kubetest.AuthClientCertData},
		{"client certificate files relative to the kubeconfig", kubetest.AuthClientCertFiles},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := client(t, cluster, tt.auth)
			v, err := c.ServerVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v.GitVersion != kubetest.Version {
				t.Errorf("server version %q, want %q", v.GitVersion, kubetest.Version)
			}
			if _, err := c.ListNodes(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("forbidden", func(t *testing.T) {
		c := client(t, cluster, kubetest.AuthUnprivileged)
		_, err := c.ListNodes(ctx)
		var ae *kube.APIError
		if !errors.Is(err, kube.ErrForbidden) || !errors.As(err, &ae) || ae.Code != 403 {
			t.Fatalf("got %v", err)
		}
		if want := `listing nodes: nodes is forbidden: User "nobody" cannot list resource "nodes"`; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error %q, want it to start with %q", err, want)
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		cfg, err := kube.LoadConfig(cluster.Kubeconfig(t, kubetest.AuthToken), kube.ConfigOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Token = "not-the-token"
		c, err := kube.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListNodes(ctx)
		if !errors.Is(err, kube.ErrUnauthorized) {
			t.Fatalf("got %v", err)
		}
		if strings.Contains(err.Error(), "not-the-token") {
			t.Errorf("error %q shows the token", err)
		}
	})

	t.Run("server certificate from another CA", func(t *testing.T) {
		cfg, err := kube.LoadConfig(cluster.Kubeconfig(t, kubetest.AuthToken), kube.ConfigOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cfg.CAData = cluster.ClientCert // a certificate, but not the CA
		c, err := kube.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListNodes(ctx); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("not found, already exists, conflict", func(t *testing.T) {
		c := client(t, cluster, kubetest.AuthToken)
		_, err := c.GetPersistentVolume(ctx, "missing")
		if !errors.Is(err, kube.ErrNotFound) || err.Error() != `getting persistentvolume missing: persistentvolumes "missing" not found (404 NotFound)` {
			t.Errorf("get: %v", err)
		}
		pv := &kube.PersistentVolume{
			Metadata: kube.ObjectMeta{Name: "pv1"},
			Spec: kube.PersistentVolumeSpec{
				Capacity:    map[string]string{"storage": "1Gi"},
				AccessModes: []string{"ReadWriteMany"},
				NFS:         &kube.NFSVolumeSource{Server: "10.0.0.5", Path: "/x"},
			},
		}
		created, err := c.CreatePersistentVolume(ctx, pv)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CreatePersistentVolume(ctx, pv)
		if !errors.Is(err, kube.ErrAlreadyExists) || errors.Is(err, kube.ErrConflict) {
			t.Errorf("second create: %v", err)
		}
		// A merge patch carrying a stale resourceVersion is refused.
		if _, err := c.PatchPersistentVolume(ctx, "pv1", []byte(`{"metadata":{"labels":{"a":"b"}}}`)); err != nil {
			t.Fatal(err)
		}
		stale := fmt.Sprintf(`{"metadata":{"resourceVersion":%q,"labels":{"a":"c"}}}`, created.Metadata.ResourceVersion)
		_, err = c.PatchPersistentVolume(ctx, "pv1", []byte(stale))
		if !errors.Is(err, kube.ErrConflict) || errors.Is(err, kube.ErrAlreadyExists) {
			t.Errorf("stale patch: %v", err)
		}
		_, err = c.CreatePersistentVolumeClaim(ctx, &kube.PersistentVolumeClaim{Metadata: kube.ObjectMeta{Name: "Bad_Name"}})
		if !errors.Is(err, kube.ErrInvalid) {
			t.Errorf("invalid claim: %v", err)
		}
		if err := c.DeletePersistentVolume(ctx, "pv1"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCheckCluster proves the verify step's report against objects a real
// API server holds: nodes with the conditions a kubelet would report and
// pods with the statuses and events a kubelet would write.
func TestCheckCluster(t *testing.T) {
	cluster := kubetest.Start(t, kubetest.Options{NoControllerManager: true})
	c := client(t, cluster, kubetest.AuthToken)
	ctx := t.Context()

	t.Run("no nodes", func(t *testing.T) {
		r, err := kube.CheckCluster(ctx, c, kube.CheckOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Healthy() || r.Nodes != 0 || !strings.Contains(r.String(), "nodes: none registered") {
			t.Errorf("report:\n%s", r)
		}
	})

	now := time.Now().UTC().Format(time.RFC3339)
	node := func(name string, conditions ...map[string]string) {
		cluster.Request(t, http.MethodPost, "/api/v1/nodes", map[string]any{"metadata": map[string]any{"name": name}})
		if len(conditions) > 0 {
			for _, cond := range conditions {
				cond["lastHeartbeatTime"], cond["lastTransitionTime"] = now, now
			}
			cluster.Request(t, http.MethodPatch, "/api/v1/nodes/"+name+"/status", map[string]any{"status": map[string]any{"conditions": conditions}})
		}
	}
	node("master", map[string]string{"type": "Ready", "status": "True", "reason": "KubeletReady"})
	node("worker-1",
		map[string]string{"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "container runtime is down"},
		map[string]string{"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure", "message": "kubelet has disk pressure"},
		map[string]string{"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"})
	node("worker-2") // registered, but its kubelet never reported

	const (
		mirror       = "10.0.0.9:5000"
		proxyImage   = mirror + "/gcr.io/google-containers/kube-proxy:v1.15.11"
		restImage    = "openpai/rest-server:v1.8.0"
		pullFailure  = `Failed to pull image "` + proxyImage + `": rpc error: code = Unknown desc = Error response from daemon: Get http://` + mirror + `/v2/: dial tcp ` + mirror + `: connect: connection refused`
		backOffImage = `Back-off pulling image "` + proxyImage + `"`
	)
	// pod creates a pod and writes its status, as the kubelet would.
	pod := func(ns, name, image string, status map[string]any) string {
		out := cluster.Request(t, http.MethodPost, "/api/v1/namespaces/"+ns+"/pods", map[string]any{
			"metadata": map[string]any{"name": name},
			"spec": map[string]any{
				"nodeName":   "worker-1",
				"containers": []map[string]any{{"name": "main", "image": image}},
			},
		})
		var p struct {
			Metadata struct{ UID string } `json:"metadata"`
		}
		if err := json.Unmarshal(out, &p); err != nil {
			t.Fatal(err)
		}
		if status != nil {
			cluster.Request(t, http.MethodPatch, "/api/v1/namespaces/"+ns+"/pods/"+name+"/status", map[string]any{"status": status})
		}
		return p.Metadata.UID
	}
	containerStatus := func(image string, ready bool, restarts int, state map[string]any) []map[string]any {
		return []map[string]any{{"name": "main", "image": image, "imageID": "", "ready": ready, "restartCount": restarts, "state": state}}
	}
	proxyUID := pod("kube-system", "kube-proxy-x7k2p", proxyImage, map[string]any{
		"phase":             "Pending",
		"containerStatuses": containerStatus(proxyImage, false, 0, map[string]any{"waiting": map[string]any{"reason": "ImagePullBackOff", "message": backOffImage}}),
	})
	// The kubelet's events: the pull failure, then the back-off.
	event := func(ns, name, podName, uid, reason, message string, at time.Time) {
		cluster.Request(t, http.MethodPost, "/api/v1/namespaces/"+ns+"/events", map[string]any{
			"metadata":       map[string]any{"name": name},
			"involvedObject": map[string]any{"kind": "Pod", "namespace": ns, "name": podName, "uid": uid, "apiVersion": "v1"},
			"reason":         reason, "message": message, "type": "Warning",
			"source":         map[string]any{"component": "kubelet", "host": "worker-1"},
			"firstTimestamp": at.UTC().Format(time.RFC3339), "lastTimestamp": at.UTC().Format(time.RFC3339), "count": 1,
		})
	}
	t0 := time.Now().Add(-time.Minute)
	event("kube-system", "kube-proxy-x7k2p.1", "kube-proxy-x7k2p", proxyUID, "Failed", `Failed to pull image "`+proxyImage+`": an older failure`, t0)
	event("kube-system", "kube-proxy-x7k2p.2", "kube-proxy-x7k2p", proxyUID, "Failed", pullFailure, t0.Add(10*time.Second))
	event("kube-system", "kube-proxy-x7k2p.3", "kube-proxy-x7k2p", proxyUID, "Failed", "Error: ErrImagePull", t0.Add(11*time.Second))
	event("kube-system", "kube-proxy-x7k2p.4", "kube-proxy-x7k2p", proxyUID, "BackOff", backOffImage, t0.Add(20*time.Second))

	pod("default", "rest-server-ds-abcde", restImage, map[string]any{
		"phase":             "Running",
		"conditions":        []map[string]any{{"type": "Ready", "status": "True"}},
		"containerStatuses": containerStatus(restImage, true, 0, map[string]any{"running": map[string]any{"startedAt": now}}),
	})
	pod("default", "log-manager-ds-fghij", "openpai/log-manager-nginx:v1.8.0", map[string]any{
		"phase":             "Running",
		"containerStatuses": containerStatus("openpai/log-manager-nginx:v1.8.0", false, 5, map[string]any{"waiting": map[string]any{"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}),
	})
	pod("default", "job-done", "busybox", map[string]any{
		"phase":             "Succeeded",
		"containerStatuses": containerStatus("busybox", false, 0, map[string]any{"terminated": map[string]any{"exitCode": 0, "reason": "Completed"}}),
	})
	pod("default", "unschedulable", "busybox", map[string]any{
		"phase":      "Pending",
		"conditions": []map[string]any{{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}},
	})

	r, err := kube.CheckCluster(ctx, c, kube.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", r)
	if r.Healthy() || r.Nodes != 3 || r.Ready != 1 || r.Pods != 5 || r.Version != kubetest.Version {
		t.Errorf("summary: healthy %v, %d/%d nodes ready, %d pods, version %q", r.Healthy(), r.Ready, r.Nodes, r.Pods, r.Version)
	}

	t.Run("nodes", func(t *testing.T) {
		if len(r.NodeProblems) != 2 {
			t.Fatalf("node problems: %v", r.NodeProblems)
		}
		w1, w2 := r.NodeProblems[0], r.NodeProblems[1]
		if w1.Name != "worker-1" || w1.Ready || len(w1.Conditions) != 2 ||
			w1.Conditions[0].Reason != "KubeletNotReady" || w1.Conditions[1].Type != "DiskPressure" {
			t.Errorf("worker-1: %+v", w1)
		}
		if w2.Name != "worker-2" || w2.Ready || w2.Conditions[0].Reason != "NoStatus" {
			t.Errorf("worker-2: %+v", w2)
		}
		for _, want := range []string{
			"nodes: 1 of 3 Ready",
			"worker-1: not Ready: Ready=False (KubeletNotReady: container runtime is down); DiskPressure=True (KubeletHasDiskPressure: kubelet has disk pressure)",
			"worker-2: not Ready: Ready=Unknown (NoStatus: the kubelet has not reported the node's status)",
		} {
			if !strings.Contains(r.String(), want) {
				t.Errorf("report lacks %q", want)
			}
		}
	})

	t.Run("image pull", func(t *testing.T) {
		pulls := r.ImagePullProblems()
		if len(pulls) != 1 {
			t.Fatalf("image pull problems: %+v", pulls)
		}
		p := pulls[0]
		if p.Pod != "kube-system/kube-proxy-x7k2p" || p.Image != proxyImage || p.Registry != mirror || p.Upstream != "gcr.io" ||
			p.Reason != "ImagePullBackOff" || p.Message != backOffImage || p.PullError != pullFailure {
			t.Errorf("got %+v", p)
		}
		want := "kube-system/kube-proxy-x7k2p on worker-1: Pending\n" +
			"    container main: pull of " + proxyImage + " from " + mirror + " failed: ImagePullBackOff: " + pullFailure
		if !strings.Contains(r.String(), want) {
			t.Errorf("report lacks\n%s", want)
		}
	})

	t.Run("other pods", func(t *testing.T) {
		var names []string
		for _, p := range r.PodProblems {
			names = append(names, p.Namespace+"/"+p.Name)
		}
		if want := []string{"default/log-manager-ds-fghij", "default/unschedulable", "kube-system/kube-proxy-x7k2p"}; !slices.Equal(names, want) {
			t.Errorf("pods reported %v, want %v", names, want)
		}
		for _, want := range []string{
			"pods: 3 of 5 not running",
			"default/log-manager-ds-fghij on worker-1: Running\n    container main (openpai/log-manager-nginx:v1.8.0): waiting CrashLoopBackOff: back-off 5m0s restarting failed container, 5 restarts",
			"default/unschedulable on worker-1: Pending (Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.)",
		} {
			if !strings.Contains(r.String(), want) {
				t.Errorf("report lacks\n%s", want)
			}
		}
	})

	t.Run("namespaces", func(t *testing.T) {
		r, err := kube.CheckCluster(ctx, c, kube.CheckOptions{Namespaces: []string{"kube-system"}, NoEvents: true})
		if err != nil {
			t.Fatal(err)
		}
		if r.Pods != 1 || len(r.PodProblems) != 1 || r.PodProblems[0].Containers[0].PullError != "" {
			t.Errorf("kube-system only, no events:\n%s", r)
		}
		if !strings.Contains(r.String(), "failed: ImagePullBackOff: "+backOffImage) {
			t.Errorf("without events the kubelet's message is shown:\n%s", r)
		}
	})
}

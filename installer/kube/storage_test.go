package kube_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/installer/kube"
	"github.com/paimirror/paimirror/installer/kube/kubetest"
)

// storedPV and storedPVC are the objects as the API server holds them, read
// independently of the client under test.
func storedPV(t *testing.T, cluster *kubetest.Cluster, name string) map[string]any {
	t.Helper()
	var pv map[string]any
	if err := json.Unmarshal(cluster.Request(t, http.MethodGet, "/api/v1/persistentvolumes/"+name, nil), &pv); err != nil {
		t.Fatal(err)
	}
	return pv
}

func storedPVC(t *testing.T, cluster *kubetest.Cluster, name string) map[string]any {
	t.Helper()
	var pvc map[string]any
	if err := json.Unmarshal(cluster.Request(t, http.MethodGet, "/api/v1/namespaces/default/persistentvolumeclaims/"+name, nil), &pvc); err != nil {
		t.Fatal(err)
	}
	return pvc
}

// get walks a decoded JSON object along a dotted path.
func get(obj map[string]any, path string) any {
	var v any = obj
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestEnsureNFS proves the storage step against a real API server with the
// persistent-volume binder running: the objects it creates are the seed
// guide's and really bind; a rerun changes nothing; a difference stops it
// and names the field; recreate replaces both even with finalizers in the
// way; a retained volume whose claim was deleted is bound again.
func TestEnsureNFS(t *testing.T) {
	cluster := kubetest.Start(t, kubetest.Options{})
	c := client(t, cluster, kubetest.AuthToken)
	ctx := t.Context()
	v := kube.NFSVolume{Name: "nfs-storage-pv", Claim: "nfs-storage", Server: "10.0.0.5", Path: "/data", ReadOnly: true, BindTimeout: time.Minute}

	var firstPV, firstPVC string // UIDs
	t.Run("create and bind", func(t *testing.T) {
		got, err := kube.EnsureNFS(ctx, c, v, false)
		if err != nil || got != kube.Created {
			t.Fatalf("EnsureNFS = %v, %v; want created", got, err)
		}
		pv, pvc := storedPV(t, cluster, "nfs-storage-pv"), storedPVC(t, cluster, "nfs-storage")
		for path, want := range map[string]string{
			"metadata.labels":                    `{"name":"nfs-storage"}`,
			"spec.nfs":                           `{"path":"/data","readOnly":true,"server":"10.0.0.5"}`,
			"spec.mountOptions":                  `["nfsvers=4.1"]`,
			"spec.accessModes":                   `["ReadWriteMany"]`,
			"spec.persistentVolumeReclaimPolicy": `"Retain"`,
			"spec.capacity":                      `{"storage":"10000Gi"}`,
			"spec.volumeMode":                    `"Filesystem"`,
			"spec.claimRef.name":                 `"nfs-storage"`,
			"status.phase":                       `"Bound"`,
		} {
			if got := asJSON(get(pv, path)); got != want {
				t.Errorf("pv %s = %s, want %s", path, got, want)
			}
		}
		for path, want := range map[string]string{
			"metadata.namespace":      `"default"`,
			"spec.selector":           `{"matchLabels":{"name":"nfs-storage"}}`,
			"spec.accessModes":        `["ReadWriteMany"]`,
			"spec.resources.requests": `{"storage":"10000Gi"}`,
			"spec.storageClassName":   `""`,
			"spec.volumeName":         `"nfs-storage-pv"`,
			"status.phase":            `"Bound"`,
		} {
			if got := asJSON(get(pvc, path)); got != want {
				t.Errorf("pvc %s = %s, want %s", path, got, want)
			}
		}
		firstPV, firstPVC = get(pv, "metadata.uid").(string), get(pvc, "metadata.uid").(string)
	})

	t.Run("second run unchanged", func(t *testing.T) {
		got, err := kube.EnsureNFS(ctx, c, v, false)
		if err != nil || got != kube.Unchanged {
			t.Fatalf("EnsureNFS = %v, %v; want unchanged", got, err)
		}
		if uid := get(storedPV(t, cluster, "nfs-storage-pv"), "metadata.uid"); uid != firstPV {
			t.Errorf("volume replaced")
		}
	})

	t.Run("different path is a conflict", func(t *testing.T) {
		changed := v
		changed.Path, changed.ReadOnly = "/users", false
		got, err := kube.EnsureNFS(ctx, c, changed, false)
		var ce *kube.ConflictError
		if !errors.As(err, &ce) || got != kube.Unchanged {
			t.Fatalf("EnsureNFS = %v, %v; want a ConflictError", got, err)
		}
		want := []kube.FieldDiff{
			{Object: "persistentvolume nfs-storage-pv", Field: "spec.nfs.path", Have: `"/data"`, Want: `"/users"`},
			{Object: "persistentvolume nfs-storage-pv", Field: "spec.nfs.readOnly", Have: "true", Want: "false"},
		}
		if !slices.Equal(ce.Diffs, want) {
			t.Errorf("diffs %+v, want %+v", ce.Diffs, want)
		}
		for _, s := range []string{`persistentvolume nfs-storage-pv: spec.nfs.path is "/data", want "/users"`, "--recreate"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q lacks %q", err, s)
			}
		}
		if p := get(storedPV(t, cluster, "nfs-storage-pv"), "spec.nfs.path"); p != "/data" {
			t.Errorf("volume changed: path %v", p)
		}
	})

	t.Run("capacity compared by value", func(t *testing.T) {
		same := v
		same.Capacity = "10000Gi"
		if got, err := kube.EnsureNFS(ctx, c, same, false); err != nil || got != kube.Unchanged {
			t.Fatalf("EnsureNFS = %v, %v", got, err)
		}
		v2 := kube.NFSVolume{Name: "pv-1ti", Claim: "claim-1ti", Server: "10.0.0.5", Path: "/data", Capacity: "1024Gi"}
		if got, err := kube.EnsureNFS(ctx, c, v2, false); err != nil || got != kube.Created {
			t.Fatalf("EnsureNFS = %v, %v", got, err)
		}
		// The API server stores quantities in canonical form, so a text
		// comparison would see a difference on every rerun.
		if s := get(storedPV(t, cluster, "pv-1ti"), "spec.capacity.storage"); s != "1Ti" {
			t.Errorf("the API server stored 1024Gi as %v, not 1Ti", s)
		}
		if got, err := kube.EnsureNFS(ctx, c, v2, false); err != nil || got != kube.Unchanged {
			t.Fatalf("second EnsureNFS = %v, %v", got, err)
		}
	})

	t.Run("recreate with finalizers", func(t *testing.T) {
		// Finalizers nothing will ever remove, besides the protection
		// finalizers the API server added.
		cluster.Request(t, http.MethodPatch, "/api/v1/persistentvolumes/nfs-storage-pv",
			`{"metadata":{"finalizers":["kubernetes.io/pv-protection","example.com/keep"]}}`)
		cluster.Request(t, http.MethodPatch, "/api/v1/namespaces/default/persistentvolumeclaims/nfs-storage",
			`{"metadata":{"finalizers":["kubernetes.io/pvc-protection","example.com/keep"]}}`)
		changed := v
		changed.Path, changed.ReadOnly = "/users", false
		got, err := kube.EnsureNFS(ctx, c, changed, true)
		if err != nil || got != kube.Recreated {
			t.Fatalf("EnsureNFS = %v, %v; want recreated", got, err)
		}
		pv, pvc := storedPV(t, cluster, "nfs-storage-pv"), storedPVC(t, cluster, "nfs-storage")
		if get(pv, "metadata.uid") == firstPV || get(pvc, "metadata.uid") == firstPVC {
			t.Error("not replaced")
		}
		if get(pv, "spec.nfs.path") != "/users" || get(pv, "status.phase") != "Bound" || get(pvc, "status.phase") != "Bound" {
			t.Errorf("pv %s\npvc %s", asJSON(pv), asJSON(pvc))
		}
		if got, err := kube.EnsureNFS(ctx, c, changed, false); err != nil || got != kube.Unchanged {
			t.Fatalf("then EnsureNFS = %v, %v; want unchanged", got, err)
		}
	})

	t.Run("claim deleted, volume retained", func(t *testing.T) {
		cluster.Request(t, http.MethodPatch, "/api/v1/namespaces/default/persistentvolumeclaims/claim-1ti", `{"metadata":{"finalizers":null}}`)
		cluster.Request(t, http.MethodDelete, "/api/v1/namespaces/default/persistentvolumeclaims/claim-1ti", nil)
		v2 := kube.NFSVolume{Name: "pv-1ti", Claim: "claim-1ti", Server: "10.0.0.5", Path: "/data", Capacity: "1024Gi", BindTimeout: time.Minute}
		got, err := kube.EnsureNFS(ctx, c, v2, false)
		if err != nil || got != kube.Created {
			t.Fatalf("EnsureNFS = %v, %v; want created", got, err)
		}
		if p := get(storedPVC(t, cluster, "claim-1ti"), "spec.volumeName"); p != "pv-1ti" {
			t.Errorf("claim bound to %v", p)
		}
	})

	t.Run("volume bound to another claim", func(t *testing.T) {
		other := kube.NFSVolume{Name: "nfs-storage-pv", Claim: "other", Label: "nfs-storage", Server: "10.0.0.5", Path: "/users"}
		_, err := kube.EnsureNFS(ctx, c, other, false)
		var ce *kube.ConflictError
		if !errors.As(err, &ce) || len(ce.Diffs) != 1 || ce.Diffs[0].Field != "spec.claimRef" {
			t.Fatalf("got %v", err)
		}
	})
}

// TestEnsureNFSWithoutBinder proves that a claim nothing binds is reported
// as such, pointing at the missing binder, instead of hanging.
func TestEnsureNFSWithoutBinder(t *testing.T) {
	cluster := kubetest.Start(t, kubetest.Options{NoControllerManager: true})
	c := client(t, cluster, kubetest.AuthToken)
	v := kube.NFSVolume{Name: "nfs-storage-pv", Claim: "nfs-storage", Server: "10.0.0.5", Path: "/data", BindTimeout: 2 * time.Second}
	got, err := kube.EnsureNFS(t.Context(), c, v, false)
	var nb *kube.NotBoundError
	if !errors.As(err, &nb) || got != kube.Created {
		t.Fatalf("EnsureNFS = %v, %v; want created and a NotBoundError", got, err)
	}
	if nb.Phase != "Pending" || nb.Claim != "default/nfs-storage" || len(nb.Events) != 0 {
		t.Errorf("got %+v", nb)
	}
	want := "claim default/nfs-storage is still Pending after 2s, not bound to persistentvolume nfs-storage-pv; no events for the claim: is kube-controller-manager running with its persistent-volume binder?"
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
}

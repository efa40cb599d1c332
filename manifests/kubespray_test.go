package manifests

import (
	"strings"
	"testing"
)

// TestKubesprayRegistryVarsNameDefaultImages checks that every image
// variable KubesprayRegistryVars sets names, below the registry prefix, a
// repository the default manifest holds an image of: a push of the
// default bundle puts each of them there.
func TestKubesprayRegistryVarsNameDefaultImages(t *testing.T) {
	const prefix = "harbor.lab/openpai"
	repos := map[string]bool{}
	for _, img := range Default().Images {
		for _, n := range img.MirrorNames() {
			repo, _ := RepoTag(n)
			repos[repo] = true
		}
	}
	vars := KubesprayRegistryVars(prefix)
	want := []string{"kube_image_repo", "pod_infra_image_repo", "dnsautoscaler_image_repo", "etcd_image_repo",
		"calico_node_image_repo", "calico_cni_image_repo", "calico_policy_image_repo", "coredns_image_repo", "nginx_image_repo"}
	if len(vars) != len(want) {
		t.Fatalf("%d variables, want %d", len(vars), len(want))
	}
	for i, v := range vars {
		if v.Name != want[i] {
			t.Errorf("variable %d is %s, want %s", i, v.Name, want[i])
		}
		repo, ok := strings.CutPrefix(ExpandKubesprayVar(v.Value), prefix+"/")
		if !ok {
			t.Errorf("%s = %s is not below %s", v.Name, v.Value, prefix)
			continue
		}
		if v.Name == "kube_image_repo" {
			repo += "/kube-apiserver" // kubeadm appends each image's name
		}
		if !repos[repo] {
			t.Errorf("%s = %s: the default manifest holds no image %s", v.Name, v.Value, repo)
		}
	}
}

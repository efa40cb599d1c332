package manifests

import "strings"

// Var is one kubespray variable and its value.
type Var struct {
	Name  string
	Value string
}

// KubesprayVars returns the kubespray variables that point an OpenPAI v1.8.0
// install at a mirror: every image kubespray pulls from outside Docker Hub and
// every file it downloads. mirror is HOST:PORT as the nodes reach it; scheme
// is "http" or "https" (how files are fetched). The values keep the
// "{{ ... }}" placeholders kubespray expands and are all strings, as pai's
// openpai_kubespray_extra_var requires. Docker Hub images need no variable:
// docker's registry-mirrors sends them to the mirror under their own names.
func KubesprayVars(mirror, scheme string) []Var {
	if scheme == "" {
		scheme = "http"
	}
	files := scheme + "://" + mirror
	return []Var{
		{"kube_image_repo", mirror + "/gcr.io/google-containers"},
		{"pod_infra_image_repo", mirror + "/gcr.io/google_containers/pause-{{ image_arch }}"},
		{"dnsautoscaler_image_repo", mirror + "/k8s.gcr.io/cluster-proportional-autoscaler-{{ image_arch }}"},
		{"etcd_image_repo", mirror + "/quay.io/coreos/etcd"},
		{"kubeadm_download_url", files + "/storage.googleapis.com/kubernetes-release/release/{{ kubeadm_version }}/bin/linux/{{ image_arch }}/kubeadm"},
		{"hyperkube_download_url", files + "/storage.googleapis.com/kubernetes-release/release/{{ kube_version }}/bin/linux/{{ image_arch }}/hyperkube"},
		{"cni_download_url", files + "/github.com/containernetworking/plugins/releases/download/{{ cni_version }}/cni-plugins-linux-{{ image_arch }}-{{ cni_version }}.tgz"},
		{"calicoctl_download_url", files + "/github.com/projectcalico/calicoctl/releases/download/{{ calico_ctl_version }}/calicoctl-linux-{{ image_arch }}"},
	}
}

// ExpandKubesprayVar expands the placeholders of a KubesprayVars value with
// the versions OpenPAI v1.8.0 installs (kubespray 2.11 defaults with pai's
// openpai.yml), for checks that the mirror really serves what kubespray will
// ask for.
func ExpandKubesprayVar(v string) string {
	return strings.NewReplacer(
		"{{ image_arch }}", "amd64",
		"{{ kubeadm_version }}", "v1.15.11",
		"{{ kube_version }}", "v1.15.11",
		"{{ cni_version }}", "v0.8.1",
		"{{ calico_ctl_version }}", "v3.7.3",
	).Replace(v)
}

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
	return append(hostImageVars(mirror),
		Var{"kubeadm_download_url", files + "/storage.googleapis.com/kubernetes-release/release/{{ kubeadm_version }}/bin/linux/{{ image_arch }}/kubeadm"},
		Var{"hyperkube_download_url", files + "/storage.googleapis.com/kubernetes-release/release/{{ kube_version }}/bin/linux/{{ image_arch }}/hyperkube"},
		Var{"cni_download_url", files + "/github.com/containernetworking/plugins/releases/download/{{ cni_version }}/cni-plugins-linux-{{ image_arch }}-{{ cni_version }}.tgz"},
		Var{"calicoctl_download_url", files + "/github.com/projectcalico/calicoctl/releases/download/{{ calico_ctl_version }}/calicoctl-linux-{{ image_arch }}"},
	)
}

// hostImageVars returns the image variables of the images kubespray pulls
// from outside Docker Hub, pointed at prefix (a registry, optionally with
// a path) under their mirror names.
func hostImageVars(prefix string) []Var {
	return []Var{
		{"kube_image_repo", prefix + "/gcr.io/google-containers"},
		{"pod_infra_image_repo", prefix + "/gcr.io/google_containers/pause-{{ image_arch }}"},
		{"dnsautoscaler_image_repo", prefix + "/k8s.gcr.io/cluster-proportional-autoscaler-{{ image_arch }}"},
		{"etcd_image_repo", prefix + "/quay.io/coreos/etcd"},
	}
}

// KubesprayRegistryVars returns the kubespray variables that point every
// image kubespray 2.11 pulls on OpenPAI v1.8.0's install path at registry
// (REGISTRY[/PREFIX], as the nodes' docker names it), under the images'
// mirror names: the images of KubesprayVars and the Docker Hub ones
// (calico, coredns, nginx), which docker's registry-mirrors cannot send to
// a registry with a path prefix. They carry no file URLs: files still come
// from the mirror (KubesprayVars' download URLs).
func KubesprayRegistryVars(registry string) []Var {
	return append(hostImageVars(registry),
		Var{"calico_node_image_repo", registry + "/calico/node"},
		Var{"calico_cni_image_repo", registry + "/calico/cni"},
		Var{"calico_policy_image_repo", registry + "/calico/kube-controllers"},
		Var{"coredns_image_repo", registry + "/coredns/coredns"},
		Var{"nginx_image_repo", registry + "/library/nginx"},
	)
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

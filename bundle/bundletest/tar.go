package bundletest

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"strings"
)

// SmallManifest is a manifest for tests: three images in a default group
// (Docker Hub, gcr.io with a siaimes alias, quay.io), one in a group that is
// off by default, a file with a sha256 and k8s-share path, and one whose
// upstream publishes no checksum.
const SmallManifest = `name: small
groups:
  - name: base
  - name: extra
    default: false
images:
  - ref: docker.io/library/busybox:1.31.1
    groups: [base]
  - ref: gcr.io/google-containers/kube-apiserver:v1.15.11
    aliases: [siaimes/kube-apiserver:v1.15.11]
    groups: [base]
  - ref: quay.io/coreos/etcd:v3.3.10
    groups: [base]
  - ref: docker.io/library/registry:2
    groups: [extra]
files:
  - url: https://storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm
    alternates: [https://dl.k8s.io/release/v1.15.11/bin/linux/amd64/kubeadm]
    sha256: 2ebc93a6f64419e5e7f26a4674c6784463c7b2a51c0afe8ec2c0423471e7cec3
    paths: [/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm]
  - url: https://raw.githubusercontent.com/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml
    no_checksum: upstream publishes none
`

// TarBlobs lists the hex digests of the blob members of a bundle or
// partial bundle file that hold their blob whole, in order: a torn last
// member, and a member reserved for a download not finished (which does
// not hash to its name), are left out.
func TarBlobs(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var out []string
	for {
		h, err := tr.Next()
		if err != nil {
			return out
		}
		hash := sha256.New()
		if _, err := io.Copy(hash, tr); err != nil {
			return out // torn
		}
		// A member that does not hash to its name is a download's
		// reserved place, not a stored blob.
		if rest, ok := strings.CutPrefix(h.Name, "blobs/sha256/"); ok && rest == hex.EncodeToString(hash.Sum(nil)) {
			out = append(out, rest)
		}
	}
}

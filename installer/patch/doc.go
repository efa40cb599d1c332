// Package patch points a pai v1.8.0 checkout at a paimirror mirror: the
// first step of paimirror install, run on the dev box before the
// quick-start scripts.
//
// # What changes
//
// Plan reads the checkout and works out, without writing anything:
//
//   - contrib/kubespray/config/config.yaml: openpai_kubespray_extra_var
//     gets every variable of manifests.KubesprayVars (kube_image_repo,
//     pod_infra_image_repo, dnsautoscaler_image_repo, etcd_image_repo and
//     the kubeadm, hyperkube, CNI and calicoctl download URLs) pointed at
//     the mirror, as double-quoted strings that keep kubespray's
//     "{{ ... }}" placeholders, and, with Options.DockerApt (the bundle
//     carries Docker's apt repository), DockerAptVars:
//     docker_ubuntu_repo_base_url and docker_ubuntu_repo_gpgkey, so that
//     kubespray's docker role adds the mirror's copy of
//     download.docker.com and its key. The file is edited as text, line
//     by line, at the positions yaml.v3 reports: the user's other keys,
//     comments, blank lines and order stay byte for byte. A wanted variable already
//     set to something else, in the block or at top level (pai copies both
//     into kubespray's openpai.yml), is replaced with a warning. Variables
//     kubespray 2.11 ignores (gcr_image_repo, quay_image_repo,
//     docker_image_repo) and openpai_docker_registry_mirrors /
//     openpai_docker_insecure_registries (dockerd flags that clash with
//     daemon.json) are left and warned about. The result must parse, hold
//     the wanted strings, and keep docker_image_tag the only line naming
//     itself, as quick-start-service.sh's grep needs; otherwise Plan fails.
//   - contrib/kubespray/docker-cache-config-distribute.yml:
//     docker_cache_host is the mirror, so that every node's daemon.json
//     gets it as registry mirror and insecure registry.
//   - src/device-plugin/deploy/start.sh.template: each
//     "svn cat https://github.com/OWNER/REPO.git/tags/TAG/PATH" (or
//     /trunk/PATH, whose branch comes from the manifest) becomes
//     `curl -fsSL "SCHEME://MIRROR/raw.githubusercontent.com/OWNER/REPO/REF/PATH"`;
//     earlier curls to another mirror or to the seed guide's k8s-share
//     server are pointed at this one. A file the mirror does not serve
//     (Options.HasPath) stays as it was, with a warning naming the device
//     type and the file.
//   - contrib/kubespray/roles/requirement/{devbox,infra,worker}/tasks/ubuntu.yml
//     (pai.RequirementFiles): each `raw: nslookup HOST` (docker.io, gcr.io,
//     quay.io, which fail offline and stop quick-start-kubespray.sh at its
//     prompt) becomes a fetch of the mirror's /v2/ with curl, else wget.
//     The checks then fail only when the machine cannot reach the mirror.
//     pai v1.8.0 has no variable to skip them (requirement.sh passes
//     config.yaml as extra vars, but quay.io is written in the tasks, and
//     nslookup needs a DNS server that knows the name).
//
// layout.yaml is read first (pai.ParseLayout, with pai's rules); an
// invalid one stops Plan with a *pai.LayoutError. The paths of these files
// are package pai's; the text editing is manifests/yamltext's.
//
// # With a registry
//
// With Options.Registry (install --registry REGISTRY/PREFIX), a lab
// registry that paimirror push filled, under PREFIX/<mirror name>, every
// image of the install path names it explicitly; docker's
// registry-mirrors cannot carry a path, so nothing relies on them. Files,
// apt and Python packages still come from the mirror. Plan then:
//
//   - config.yaml: openpai_kubespray_extra_var holds
//     manifests.KubesprayRegistryVars (every kubespray image, Docker Hub
//     ones included: calico, coredns, nginx) and the file URLs of
//     KubesprayVars; the top-level docker_registry_domain (the registry's
//     host[:port]) and docker_registry_namespace (PREFIX/openpai, or
//     openpai) make pai's own images DOMAIN/NAMESPACE/NAME, that is
//     REGISTRY/PREFIX/openpai/NAME; with a username and password,
//     docker_registry_username and docker_registry_password, from which
//     pai logs in and makes the pull secret pai-secret. pai writes those
//     two unquoted into services-configuration.yaml and passes them to
//     docker login through the shell, unquoted too, so a value other than
//     a plain word is written as a shell-quoted word inside a YAML string
//     (see paiCredential). Existing keys are set in place, missing ones
//     added after pai's commented examples. No warning or error shows the
//     password, and Result.Diff masks its line.
//   - docker-cache-config-distribute.yml: enable_docker_cache becomes
//     false, so the nodes' daemon.json gets no registry mirror (see
//     patchDockerCache for why neither the mirror nor the registry is
//     wanted there).
//   - service-boot.sh: the dev box is REGISTRY/PREFIX/openpai/dev-box.
//   - src/*/deploy/**: every literal image: value (not one a template
//     fills in) whose image Registry.Images holds becomes
//     REGISTRY/PREFIX/<mirror name> (busybox:1.31.1 becomes
//     REGISTRY/PREFIX/library/busybox:1.31.1); one it lacks is left with
//     a warning, unless its service is off by default (docker-cache,
//     dshuttle).
//   - the device plugin start script: each manifest fetched from the
//     mirror is piped through sed, which points the Docker Hub device
//     plugin images it names (nvidia/k8s-device-plugin:1.0.0-beta4) at
//     the registry; a device type of layout.yaml whose plugin image the
//     registry lacks gets a warning.
//
// The scan then reports every literal image reference that does not
// name the registry (ScanOptions.Registry). Plan without a Registry
// switches the docker cache step back on and drops the sed stages, but
// leaves the docker_registry_* keys, the dev-box image and the services'
// images as they are: to take images from the mirror again, restore the
// *.paimirror-orig files first.
//
// # Applying
//
// Apply writes a Result, all or nothing: it refuses, writing nothing, if a
// file changed since Plan read it (ErrChanged); it keeps each original
// once as <file>.paimirror-orig (never overwritten, so the first original
// survives every rerun; one that is not a regular file is
// ErrOriginalNotFile); it writes every new content and original to a
// synced temporary file beside its target, and only then renames them all
// into place, keeping permissions. A failure before the renames leaves the
// tree as it was; a failed rename puts back what was renamed. Plan after
// Apply, with the same options, yields no changes. Result.Diff renders the
// changes as a unified diff (a/ and b/ paths relative to the checkout),
// for --dry-run.
//
// # Scan
//
// Scan lists the internet hosts that the files the install runs still
// name (contrib/kubespray and src/*/deploy), one Finding per file and
// host with what it means offline; Plan fills Result.Findings with the
// scan of the tree as it will be after Apply. With ScanOptions.AptPackages
// (Options.AptPackages for Plan: the bundle's apt repositories, which
// prepare points the machines at), apt updates and installs of only those
// packages are not findings. A finding in an Ansible task whose `when:`
// (or that of a block or play around it) is false on every release of
// ScanOptions.Targets (default Ubuntu 16.04 and 18.04) is off the default
// path: conditions on the distribution facts (ansible_distribution,
// ansible_distribution_version, ansible_lsb, ...) are evaluated; any other
// condition keeps the task on the path.
//
// # Concurrency
//
// Plan and Scan only read, and are safe for concurrent use; a Result is plain data. Apply must not run concurrently with
// anything else writing the same files.
package patch

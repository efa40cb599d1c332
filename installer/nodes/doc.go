// Package nodes checks and prepares the machines of an OpenPAI layout over
// SSH: the "preflight" and "prepare" steps of paimirror install.
//
// # Connecting
//
// Dial logs in to a Node with config.yaml's user and password (or a private
// key) using golang.org/x/crypto/ssh. Host keys are trusted on first use:
// HostKeys keeps them in a known_hosts file in the install's state
// directory; a node whose key later differs is refused with a
// *HostKeyChangedError until the old key is removed (HostKeys.Forget).
// Client.Run runs one POSIX shell command per SSH session, with stdout and
// stderr collected separately. Commands that need root go through
// `sudo -k -S -p ""` with the password written to sudo's standard input
// (never on a command line), or `sudo -n` for passwordless sudo.
//
// The password never appears in a log record, an error, a command line or
// a file; Auth hides it from fmt and slog.
//
// # Preflight
//
// Preflight runs the Checks on every node at once and returns a Table of
// node × check with pass, warn, FAIL or skip in each cell and a one-line fix
// for every problem. Each check runs as its own SSH session, so a failure
// is always attributed to its check. Blocking checks (ssh, sudo, os,
// docker, nvidia on GPU workers, address, daemon.json, mirror, registry)
// stop the install; the others (memory, disk, ntp, packages, hostname) warn; each
// Check's Why says why. A node that cannot be reached fails its ssh cell
// and is skipped in the others, while the other nodes are still checked.
//
// # Prepare
//
// Prepare merges the mirror into /etc/docker/daemon.json on every node
// (MergeDaemonJSON: registry-mirrors, and insecure-registries for a plain
// HTTP mirror, every other key kept), keeps the original once as
// daemon.json.paimirror-orig (or a daemon.json.paimirror-orig-absent marker
// when there was none), writes through a temporary file and mv, and
// restarts docker only when the content changed, waiting until `docker
// info` answers. A daemon.json that is not valid JSON is left untouched and
// reported. The dev box is prepared over SSH like any node (Role DevBox,
// Addr "127.0.0.1"), so it needs an sshd.
//
// # Lab registry
//
// With install --registry, every image comes from a lab registry (Harbor,
// distribution's registry) that paimirror push filled, while files, apt
// and Python packages still come from the mirror. A Registry describes it
// as the machines reach it. With PrepareOptions.Registry, Prepare gives
// every machine, the dev box included, what docker and kubelet need to
// pull from it:
//
//   - HTTPS with Registry.CAPEM: the CA at
//     /etc/docker/certs.d/HOST[:PORT]/ca.crt (CAPath), which docker reads
//     on each connection and trusts for that registry alone; it is not
//     added to the system's trust store, and docker is not restarted;
//   - plain HTTP (Registry.Insecure): HOST[:PORT] in daemon.json's
//     insecure-registries (AddInsecureRegistry), in the same write and
//     docker restart as the mirror's entries. The registry is never added
//     to registry-mirrors: the install names its images with its host;
//   - Registry.Username and Password: an "auths" entry for the host
//     ({"auth": base64("USER:PASSWORD")}, MergeDockerAuth: other entries
//     and keys kept, other spellings of the same host removed) in root's
//     /root/.docker/config.json, which `docker pull` run as root reads
//     (kubespray's and pai's pulls), and in /var/lib/kubelet/config.json,
//     the first place kubelet 1.15 looks (its --root-dir, before its
//     working directory, $HOME/.docker and /.docker; the first file found
//     is the only one read, every five minutes) for credentials to pass to
//     docker when it pulls a pod's image. Both are written through a
//     temporary file and mv, with mode 0600 (a missing directory is made
//     0700, kubelet's 0750), only when their content changes. The image
//     pull secret of pai's own services is pai's, from config.yaml.
//
// The password travels to the machines on the SSH session's standard
// input, never on a command line, and never reaches a log or an error;
// Registry hides it from fmt and slog.
//
// With PreflightOptions.Registry, the registry check asks, from every
// machine as the SSH user, for Registry.Probe's manifest (HEAD, with the
// Accept headers of docker's and OCI's manifests and indexes; /v2/ without
// a probe) with curl, verifying the registry with Registry.CAPEM (the CA
// is in the command, being public) and sending the credentials with basic
// auth (curl configuration on standard input, `curl -K -`). A 401 with a
// Bearer challenge (Harbor's and Docker Hub's token auth) gets the
// standard token flow, with the credentials when there are some. The
// finding says which of these it was, each with its fix: the registry
// cannot be reached (network, firewall), TLS failed (--registry-ca, or
// --registry-insecure for plain HTTP), 401 (credentials), 403 (pull
// rights), 404 (paimirror push first), 400 to plain HTTP (the registry
// speaks HTTPS), or the manifest came (pass). A machine without curl gets
// a warning.
//
// # Apt
//
// With PrepareOptions.Apt, Prepare first points the machine's apt at the
// mirror (then installs docker if it is missing, then prepares docker),
// in one root shell script:
//
//   - the first time, /etc/apt/sources.list and the *.list and *.sources
//     of /etc/apt/sources.list.d are copied to AptBackupDir
//     (/etc/apt/paimirror-backup/, made whole or not at all); later runs
//     never replace a file kept there;
//   - those files are moved away (into the backup when it lacks them),
//     except files that name the mirror (kubespray's Docker list) and,
//     when the backup holds a different file of the same name, the file
//     itself (reported as Kept); /etc/apt/sources.list becomes a comment
//     saying where things are;
//   - AptSourcesPath (sources.list.d/paimirror.list) gets one line per
//     suite of every repository of the machine's release that the bundle
//     adds to sources: "deb [arch=ARCHS] http://MIRROR{prefix} SUITE
//     COMPONENTS" (https with a TLS mirror);
//   - AptConfPath (apt.conf.d/99paimirror) sets Acquire::Languages "none",
//     turns the DEP-11, CNF and Contents index targets off
//     (Acquire::IndexTargets::deb::<target>::DefaultEnabled "false": the
//     mirror carries only Packages indexes, and apt-get update fails on
//     an index a Release lists that cannot be fetched), sends the mirror's
//     host past any proxy and, with a CA, verifies the mirror with
//     AptCAPath (Acquire::https::HOST::CaInfo); and APT::Install-Recommends
//     "false", since the bundle resolves Depends and Pre-Depends only.
//
// Files are written through a temporary file and mv, and only when their
// content differs, so a rerun changes nothing. Then `apt-get update` runs;
// its failure is an *AptUpdateError naming the repositories apt
// complained about and apt's own messages. A machine whose release has no
// repository in the bundle is left alone (AptResult.Skipped).
//
// A machine with no docker, whose release has a repository in the bundle
// holding docker-ce (Docker's own, which kubespray adds itself and so is
// not in the sources), gets every package the bundle holds from that
// repository, at the versions it holds (docker-ce 18.09.7 as kubespray
// pins it, and its docker-ce-cli and containerd.io), from the mirror: the
// seed guide's step 4, which an air-gapped lab cannot do otherwise.
// apt-get runs with its own source list (that repository, signed-by its
// key as the mirror serves it, plus paimirror's list) and its own lists
// directory, so the machine's apt state never learns of Docker's
// repository before kubespray adds it. A failure is a
// *DockerInstallError; PrepareResult.DockerInstalled lists what came.
// Preflight reports such a machine's missing docker as a warning.
//
// A GPU worker without nvidia-container-runtime, whose release has it in a
// repository of the machines' sources (NVIDIA's flat one), gets it from
// the mirror the same way (the seed guide's step 5), and a GPU worker
// with the runtime gets "default-runtime": "nvidia" and its "runtimes"
// entry in daemon.json when daemon.json names no default runtime
// (SetNvidiaRuntime); PrepareResult.NvidiaRuntimeInstalled and
// NvidiaRuntimeSet say so. Preflight then reports the runtime as a
// warning, not a failure. The NVIDIA driver itself (nvidia-smi) is the
// machine's own.
//
// RestoreApt moves the kept files back, removes paimirror's files, the
// placeholder sources.list and the backup directory; a machine without a
// backup is reported as NoBackup.
//
// # Concurrency
//
// Preflight, Prepare and RestoreApt work on all nodes in parallel, one goroutine and
// one SSH connection per node, and return when every node is done. A
// Client and a HostKeys are safe for concurrent use. Nothing in the package
// prints; progress goes to the *slog.Logger in the options.
package nodes

// Package storage sets up OpenPAI v1.8.0's NFS storage the way the seed
// guide's 存储设置 section does by hand, as one idempotent operation: the
// "storage" step of paimirror install. storage-manager turns one worker
// into an NFS server, a persistent volume and claim offer its export to
// the cluster, and the rest-server grants it to OpenPAI groups.
//
// # Steps
//
// Setup runs six steps; each first looks whether its work is done and
// changes only what is not, so a second run changes nothing and a run
// after a failure resumes. Every failure is a *StepError that names the
// step and says what to do.
//
//  1. check: Options.Node is a worker of the cluster's layout.yaml
//     (validated with pai's rules; never the master), config.yaml,
//     layout.yaml and services-configuration.yaml are in the cluster
//     configuration directory, and every worker has nfs-common
//     (`dpkg-query -W -f='${Status}\n' nfs-common` through a Runner, over
//     SSH by default, all workers at once); a *MissingPackageError lists
//     those without it.
//  2. configure: layout.yaml gets `pai-storage: "true"` on the node (after
//     its pai-worker line, with its indentation; or inside its flow
//     mapping), and services-configuration.yaml gets the storage-manager
//     section with `localpath: <SharePath>`: the commented-out section pai
//     generates is uncommented (its header and its localpath line; the
//     other commented lines stay), an existing section gets localpath set,
//     and a file with neither gets the section at its end. Both files are
//     edited as text at the positions go.yaml.in/yaml/v3 reports, so
//     everything else stays byte for byte; each result is parsed again and
//     compared with the original value for value. The first original is
//     kept as <file>.paimirror-orig; files are replaced atomically with
//     their permissions kept. A shape Setup does not edit is ErrEdit, with
//     nothing written.
//  3. restart: when step 2 changed a file, or no storage-manager pod
//     (namespace default, label app=storage-manager, its localpath
//     annotation equal to SharePath) runs on the node, paictl runs in the
//     dev-box container (DevBox; default Docker, `docker exec -i -w
//     /mnt/pai dev-box ...`) as the guide does:
//     `./paictl.py service stop -n cluster-configuration storage-manager`,
//     `./paictl.py config push -p /cluster-configuration -m service`,
//     `./paictl.py service start -n cluster-configuration storage-manager`.
//     Each asks ClusterIDPrompt on standard input; the answer is the id
//     `./paictl.py config get-id` reports ("Cluster-id is: pai"). Then
//     Setup waits until the pod runs on the node (Kubernetes API) and
//     until NFS accepts TCP connections at the node's hostip, port 2049
//     (storage-manager's hostPort), from this machine.
//  4. volume: kube.EnsureNFS makes the persistent volume Name+"-pv" (NFS
//     server the node's hostip, NFSPath, nfsvers=4.1, ReadWriteMany,
//     Retain, read-only unless ReadWrite, label name: Name) and the claim
//     Name in namespace default bound to it. One that exists with other
//     settings stops the step with the differences (a *kube.ConflictError)
//     unless Recreate.
//  5. grant: the rest-server (through pylon at http://<master>/rest-server
//     by default) is logged in to as the admin
//     (POST /api/v2/authn/basic/login); for each group
//     GET /api/v2/groups/<name>, and when its extension.acls.storageConfigs
//     lacks Name, PUT /api/v2/groups with content-type application/json and
//     {"data":{"groupname":G,"extension":{"acls":ACLS}},"patch":true},
//     ACLS being the group's complete acls (admin, virtualClusters and
//     every other key kept) with Name appended to storageConfigs, since
//     the rest-server replaces each extension key whole. Nothing is
//     written for a group that has it.
//  6. instructions: Result.Instructions tells how to mount the share from
//     a workstation to add data (the guide's 本地管理存储), with the real
//     server and path.
//
// # Plan
//
// NewPlan works out, from Options and a layout.yaml alone, what Setup would
// do: the node to mark, the storage-manager section, the volume and claim,
// the groups and the rest-server. It needs no password, cluster or file;
// paimirror install --dry-run shows it.
//
// # Secrets
//
// The admin password goes only into the login request's body, and the
// token only into Authorization headers: neither is logged, put in an
// error or passed to paictl; text from the rest-server is scrubbed of both.
// The nodes' SSH password stays inside package nodes.
//
// # Progress
//
// Setup never prints. It reports each step's start, status lines and end
// (changed or not) through Options.Report as steps.Event values, the one
// progress type of the install's steps; paictl's output goes to
// Options.Output, and debug records go to Options.Logger. What it did is
// the returned Result, data for the caller to render.
//
// # Concurrency
//
// Setup must not run concurrently with itself or anything else that edits
// the same cluster configuration. Options.Report is called from Setup's
// goroutine, one call at a time. A Docker and an SSHRunner are safe for
// concurrent use.
package storage

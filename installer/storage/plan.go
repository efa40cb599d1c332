package storage

import (
	"fmt"
	"path"
	"strings"

	"github.com/paimirror/paimirror/installer/kube"
)

// Plan is what Setup would do with the same Options and layout.yaml, worked
// out without touching anything: plain data for a dry run. It is a
// forecast from layout.yaml alone; Setup still checks the workers, the
// cluster and the rest-server when it runs.
type Plan struct {
	// Node is the storage node, which layout.yaml marks pai-storage:
	// "true" (Node.Storage: it is marked already).
	Node Machine
	// ClusterCfgDir is where Setup edits layout.yaml and
	// services-configuration.yaml (Options.ClusterCfgDir or its default).
	ClusterCfgDir string
	// SharePath is the directory on Node that storage-manager shares.
	SharePath string
	// ServicesSection is the storage-manager section
	// services-configuration.yaml gets, as YAML ("storage-manager:\n
	// localpath: /share\n").
	ServicesSection string
	// HostPath is where the volume's files are on Node: SharePath joined
	// with Volume.Path.
	HostPath string
	// Volume is the persistent volume and its claim (NFS server Node's
	// IP, Path, mount options, read-only or not).
	Volume kube.NFSVolume
	// ClaimNamespace is the claim's namespace, kube.ClaimNamespace.
	ClaimNamespace string
	// AccessMode is the volume's and the claim's access mode,
	// "ReadWriteMany"; ReadOnly in Volume is what jobs may do.
	AccessMode string
	// Groups are the OpenPAI groups granted the claim's name.
	Groups []string
	// RestServer is the rest-server the grants go to, and AdminUser who
	// logs in there.
	RestServer, AdminUser string
	// Recreate says a volume or claim that exists with other settings
	// would be deleted and created again.
	Recreate bool
}

// accessMode is what EnsureNFS gives the volume and the claim.
const accessMode = "ReadWriteMany"

// NewPlan works out Setup's plan from opts and the layout.yaml in layout
// (source names it in errors), which is validated with pai's rules. The
// admin's password is not needed, and nothing is read or written but
// layout; it costs one parse of layout. An opts error wraps
// ErrInvalidOptions; a storage node that is not a worker wraps
// ErrNoSuchNode or ErrNotWorker and names the workers to choose from.
func NewPlan(opts Options, layout []byte, source string) (*Plan, error) {
	o, err := opts.checked()
	if err != nil {
		return nil, err
	}
	machines, err := parseMachines(layout, source)
	if err != nil {
		return nil, err
	}
	node, master, err := locate(machines, o.Node, source)
	if err != nil {
		var workers []string
		for _, m := range machines {
			if m.Worker && !m.Master {
				workers = append(workers, m.Hostname)
			}
		}
		return nil, fmt.Errorf("%w; choose one of the workers: %s", err, strings.Join(workers, ", "))
	}
	v := nfsVolume(o, node)
	return &Plan{
		Node:            node,
		ClusterCfgDir:   o.ClusterCfgDir,
		SharePath:       o.SharePath,
		ServicesSection: smKey + ":\n  " + localpathKey + ": " + o.SharePath + "\n",
		HostPath:        path.Join(o.SharePath, o.NFSPath),
		Volume:          v,
		ClaimNamespace:  kube.ClaimNamespace,
		AccessMode:      accessMode,
		Groups:          o.Groups,
		RestServer:      restServer(o, master),
		AdminUser:       o.AdminUser,
		Recreate:        o.Recreate,
	}, nil
}

// String renders the plan for people, one thing a line, indented by two
// spaces, in the order Setup does them.
func (p *Plan) String() string {
	var b strings.Builder
	n := p.Node
	if n.Storage {
		fmt.Fprintf(&b, "  layout.yaml: %s (%s) has pai-storage: \"true\" already\n", n.Hostname, n.IP)
	} else {
		fmt.Fprintf(&b, "  layout.yaml: %s (%s) gets pai-storage: \"true\"\n", n.Hostname, n.IP)
	}
	fmt.Fprintf(&b, "  services-configuration.yaml gets (both files in %s):\n", p.ClusterCfgDir)
	for _, line := range strings.SplitAfter(strings.TrimSuffix(p.ServicesSection, "\n"), "\n") {
		b.WriteString("    " + strings.TrimSuffix(line, "\n") + "\n")
	}
	fmt.Fprintf(&b, "  paictl restarts cluster-configuration and storage-manager in the dev-box container; storage-manager on %s shares %s over NFS\n", n.Hostname, p.SharePath)
	v := p.Volume
	mode := "read-write"
	if v.ReadOnly {
		mode = "read-only"
	}
	fmt.Fprintf(&b, "  persistent volume %s: NFS %s:%s, %s, %s, %s, Retain, label name: %s; its files are in %s on %s\n",
		v.Name, v.Server, v.Path, strings.Join(v.MountOptions, ","), p.AccessMode, mode, v.Label, p.HostPath, n.Hostname)
	fmt.Fprintf(&b, "  persistent volume claim %s/%s: %s, bound to %s\n", p.ClaimNamespace, v.Claim, p.AccessMode, v.Name)
	if p.Recreate {
		fmt.Fprintf(&b, "  a volume or claim that exists with other settings is deleted and created again (the data on the share is kept)\n")
	}
	fmt.Fprintf(&b, "  groups granted %s: %s (at the rest-server %s, as %s)\n", v.Claim, strings.Join(p.Groups, ", "), p.RestServer, p.AdminUser)
	return b.String()
}

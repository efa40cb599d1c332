package main

// How `paimirror install` shows what the install's steps found or did:
// the installer returns data (steps.Event.Result, installer.Preview) and
// these functions turn it into the text on standard output.

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/paimirror/paimirror/installer"
	"github.com/paimirror/paimirror/installer/kube"
	"github.com/paimirror/paimirror/installer/nodes"
	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/installer/patch"
	"github.com/paimirror/paimirror/installer/storage"
)

// renderResult renders a step's result (see installer.Install and
// installer.RestoreApt for which step returns what).
func renderResult(res any) string {
	var b strings.Builder
	switch r := res.(type) {
	case *patch.Result:
		writePatched(&b, r)
	case *nodes.Table:
		b.WriteString(r.String())
		writeAptPreflight(&b, r)
	case *installer.Prepared:
		writePrepared(&b, r)
	case *kube.ClusterReport:
		b.WriteString(r.String())
	case *storage.Result:
		b.WriteString(r.Instructions)
	case []nodes.RestoreAptResult:
		writeRestored(&b, r)
	default:
		fmt.Fprintf(&b, "%v\n", r)
	}
	return b.String()
}

// renderPreview renders a dry run: the patch as a unified diff, the scan's
// findings, the storage step's plan and what would run.
func renderPreview(p *installer.Preview) string {
	var b strings.Builder
	if d := p.Patch.Diff(); d != "" {
		b.WriteString(d)
	} else {
		b.WriteString("patch: nothing to change\n")
	}
	writeFindings(&b, p.Patch)
	if p.Storage != nil {
		fmt.Fprintf(&b, "storage (the storage step's plan):\n%s", p.Storage)
	}
	fmt.Fprintf(&b, "dry run: nothing was changed; the install would run: %s\n", strings.Join(p.Steps, ", "))
	if p.LockFrom != "" {
		fmt.Fprintf(&b, "dry run: the lock read from %s\n", p.LockFrom)
	}
	if p.Placeholder {
		fmt.Fprintf(&b, "dry run: %s stands for the mirror's address as the nodes reach it (give --mirror HOST:PORT)\n", installer.MirrorPlaceholder)
	}
	return b.String()
}

// writePatched writes what the patch step changed and the scan's findings;
// the warnings are reported apart.
func writePatched(b *strings.Builder, res *patch.Result) {
	if len(res.Changes) == 0 {
		b.WriteString("the pai tree already points at the mirror; nothing to change\n")
	}
	for _, c := range res.Changes {
		rel := c.Path
		if r, err := filepath.Rel(res.PaiDir, c.Path); err == nil && !strings.HasPrefix(r, "..") {
			rel = r
		}
		fmt.Fprintf(b, "patched %s (original kept as %s%s)\n", rel, rel, pai.OrigSuffix)
	}
	writeFindings(b, res)
}

// writeFindings writes the scan's findings: those on the install path,
// then those off it.
func writeFindings(b *strings.Builder, res *patch.Result) {
	var on, off []patch.Finding
	for _, f := range res.Findings {
		if f.OffPath == "" {
			on = append(on, f)
		} else {
			off = append(off, f)
		}
	}
	if len(on) == 0 {
		b.WriteString("internet accesses left on the install path: none\n")
	} else {
		fmt.Fprintf(b, "internet accesses still on the install path (%d):\n", len(on))
		for _, f := range on {
			fmt.Fprintf(b, "  %s\n", f)
		}
	}
	if len(off) > 0 {
		fmt.Fprintf(b, "off the default install path, for what you run by hand or enable (%d):\n", len(off))
		for _, f := range off {
			fmt.Fprintf(b, "  %s\n", f)
		}
	}
}

// writeAptPreflight lists every machine's apt check, whatever its status:
// the packages installed are worth seeing even when all is well.
func writeAptPreflight(b *strings.Builder, t *nodes.Table) {
	for _, n := range t.Nodes {
		if r, ok := t.Result(n.Name, nodes.CheckApt); ok && r.Status != nodes.Skip {
			fmt.Fprintf(b, "apt %-20s %s: %s\n", n.Name, r.Status, r.Detail)
		}
	}
}

// writePrepared writes one line for each thing prepare did on each
// machine.
func writePrepared(b *strings.Builder, p *installer.Prepared) {
	for _, r := range p.Nodes {
		if len(r.DockerInstalled) > 0 {
			fmt.Fprintf(b, "%-20s had no docker: installed %s from the mirror\n", r.Node, strings.Join(r.DockerInstalled, " "))
		}
		if r.NvidiaRuntimeInstalled != "" {
			fmt.Fprintf(b, "%-20s GPU worker without the nvidia runtime: installed %s from the mirror\n", r.Node, r.NvidiaRuntimeInstalled)
		}
		if r.NvidiaRuntimeSet {
			fmt.Fprintf(b, "%-20s daemon.json: nvidia is docker's default runtime\n", r.Node)
		}
		if r.Err != nil {
			fmt.Fprintf(b, "%-20s FAILED: %v\n", r.Node, r.Err)
			writeAptPrepared(b, r)
			continue
		}
		if r.RegistryCAInstalled {
			fmt.Fprintf(b, "%-20s trusts the registry's CA (%s)\n", r.Node, p.RegistryCAPath)
		}
		if r.RegistryInsecure {
			fmt.Fprintf(b, "%-20s daemon.json: the registry is an insecure (plain HTTP) registry\n", r.Node)
		}
		for _, f := range r.RegistryAuth {
			fmt.Fprintf(b, "%-20s registry credentials in %s\n", r.Node, f)
		}
		if r.Changed {
			fmt.Fprintf(b, "%-20s daemon.json updated (backup %s), docker restarted: %v\n", r.Node, r.Backup, r.Restarted)
		} else {
			fmt.Fprintf(b, "%-20s already uses the mirror\n", r.Node)
		}
		writeAptPrepared(b, r)
	}
}

// writeAptPrepared writes what prepare did to one machine's apt.
func writeAptPrepared(b *strings.Builder, r nodes.PrepareResult) {
	a := r.Apt
	if a == nil {
		return
	}
	name := r.Node
	switch {
	case a.Skipped != "":
		fmt.Fprintf(b, "%-20s warning: apt: %s\n", name, a.Skipped)
		return
	case a.Changed():
		fmt.Fprintf(b, "%-20s apt (%s) uses the mirror (%s; the original sources are kept in %s)", name, a.Target, nodes.AptSourcesPath, nodes.AptBackupDir)
	default:
		fmt.Fprintf(b, "%-20s apt (%s) already uses the mirror", name, a.Target)
	}
	if a.Updated {
		b.WriteString("; apt-get update ok\n")
	} else {
		b.WriteString("\n")
	}
	for _, k := range a.Kept {
		fmt.Fprintf(b, "%-20s warning: apt: %s was left in place (a different file of that name is kept in %s already)\n", name, k, nodes.AptBackupDir)
	}
	for _, w := range a.Warnings {
		fmt.Fprintf(b, "%-20s apt-get update: %s\n", name, w)
	}
}

// writeRestored writes what --restore-apt did on each machine.
func writeRestored(b *strings.Builder, results []nodes.RestoreAptResult) {
	for _, r := range results {
		switch {
		case r.Err != nil:
			fmt.Fprintf(b, "%-20s FAILED: %v\n", r.Node, r.Err)
		case r.NoBackup:
			fmt.Fprintf(b, "%-20s nothing to restore (no %s: prepare did not change its apt, or it was restored already)\n", r.Node, nodes.AptBackupDir)
		default:
			fmt.Fprintf(b, "%-20s restored %d file(s), removed paimirror's %d; run apt-get update once the original sources are reachable\n", r.Node, len(r.Restored), len(r.Removed))
			for _, l := range r.Left {
				fmt.Fprintf(b, "%-20s warning: %s is still in the backup directory\n", r.Node, l)
			}
		}
	}
}

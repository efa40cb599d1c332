package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ClaimNamespace is the namespace of the claims EnsureNFS creates: OpenPAI's
// rest-server lists the storage it offers from the claims there.
const ClaimNamespace = "default"

// NFSVolume describes an NFS export offered to OpenPAI as a persistent
// volume and the claim bound to it, as the seed guide's storage setup writes
// them by hand.
type NFSVolume struct {
	// Name is the persistent volume's name, for example "nfs-storage-pv".
	// Required.
	Name string
	// Claim is the claim's name in namespace default, for example
	// "nfs-storage"; it is the storage name OpenPAI's groups are granted.
	// Required.
	Claim string
	// Label is the value of the volume's `name:` label, which the claim's
	// selector matches; default Claim.
	Label string
	// Server is the NFS server's address (the storage node's IP). Required.
	Server string
	// Path is the exported path, for example "/data". Required, absolute.
	Path string
	// Capacity is the volume's size and the claim's request; default
	// "10000Gi" (NFS does not enforce it).
	Capacity string
	// ReadOnly mounts the export read-only in every pod.
	ReadOnly bool
	// MountOptions are the NFS mount options; default ["nfsvers=4.1"].
	MountOptions []string
	// BindTimeout is how long EnsureNFS waits for the claim to become
	// Bound; default 2 minutes (the persistent-volume binder retries a
	// pending claim every 15 seconds by default).
	BindTimeout time.Duration
}

// Outcome says what EnsureNFS did.
type Outcome int

const (
	// Unchanged means the volume and the claim were already there as asked.
	Unchanged Outcome = iota
	// Created means the volume, the claim or both were created (or a
	// released volume was made available again for its new claim).
	Created
	// Recreated means an existing volume and claim with other settings
	// were deleted and created again.
	Recreated
)

// String returns "unchanged", "created" or "recreated".
func (o Outcome) String() string {
	switch o {
	case Unchanged:
		return "unchanged"
	case Created:
		return "created"
	case Recreated:
		return "recreated"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// dns1123 is a Kubernetes object name (a DNS subdomain).
var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// labelValue is a Kubernetes label value.
var labelValue = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)

// withDefaults checks v and fills in its defaults.
func (v NFSVolume) withDefaults() (NFSVolume, error) {
	if v.Label == "" {
		v.Label = v.Claim
	}
	if v.Capacity == "" {
		v.Capacity = "10000Gi"
	}
	if v.MountOptions == nil {
		v.MountOptions = []string{"nfsvers=4.1"}
	}
	if v.BindTimeout <= 0 {
		v.BindTimeout = 2 * time.Minute
	}
	switch {
	case v.Name == "" || len(v.Name) > 253 || !dns1123.MatchString(v.Name):
		return v, fmt.Errorf("persistent volume name %q is not a valid Kubernetes name (lower-case letters, digits, '-' and '.')", v.Name)
	case v.Claim == "" || len(v.Claim) > 253 || !dns1123.MatchString(v.Claim):
		return v, fmt.Errorf("claim name %q is not a valid Kubernetes name (lower-case letters, digits, '-' and '.')", v.Claim)
	case len(v.Label) > 63 || !labelValue.MatchString(v.Label):
		return v, fmt.Errorf("label %q is not a valid Kubernetes label value", v.Label)
	case v.Server == "" || strings.ContainsAny(v.Server, "/: ") && net.ParseIP(v.Server) == nil:
		return v, fmt.Errorf("nfs server %q is not an IP address or host name", v.Server)
	case !path.IsAbs(v.Path):
		return v, fmt.Errorf("nfs path %q is not an absolute path", v.Path)
	}
	if _, err := parseQuantity(v.Capacity); err != nil {
		return v, fmt.Errorf("capacity: %w", err)
	}
	return v, nil
}

// persistentVolume is the volume v asks for.
func (v NFSVolume) persistentVolume() *PersistentVolume {
	mode := "Filesystem"
	return &PersistentVolume{
		Metadata: ObjectMeta{Name: v.Name, Labels: map[string]string{"name": v.Label}},
		Spec: PersistentVolumeSpec{
			Capacity:                      map[string]string{"storage": v.Capacity},
			AccessModes:                   []string{"ReadWriteMany"},
			PersistentVolumeReclaimPolicy: "Retain",
			MountOptions:                  slices.Clone(v.MountOptions),
			VolumeMode:                    &mode,
			NFS:                           &NFSVolumeSource{Server: v.Server, Path: v.Path, ReadOnly: v.ReadOnly},
		},
	}
}

// persistentVolumeClaim is the claim v asks for. Its storage class is ""
// (not unset), so a default storage class the cluster may have does not
// keep it from binding to the class-less volume.
func (v NFSVolume) persistentVolumeClaim() *PersistentVolumeClaim {
	mode, class := "Filesystem", ""
	return &PersistentVolumeClaim{
		Metadata: ObjectMeta{Name: v.Claim, Namespace: ClaimNamespace},
		Spec: PersistentVolumeClaimSpec{
			AccessModes:      []string{"ReadWriteMany"},
			Selector:         &LabelSelector{MatchLabels: map[string]string{"name": v.Label}},
			Resources:        ResourceRequirements{Requests: map[string]string{"storage": v.Capacity}},
			VolumeMode:       &mode,
			StorageClassName: &class,
		},
	}
}

// EnsureNFS makes the persistent volume and claim v describes exist and
// waits until the claim is Bound to the volume:
//   - missing ones are created (Created);
//   - existing ones with the fields EnsureNFS sets as asked are kept
//     (Unchanged);
//   - existing ones that differ are left alone and a *ConflictError lists
//     the differences, unless recreate is set: then the finalizers of both
//     are cleared, both are deleted, and both are created again
//     (Recreated). The data on the NFS export is never touched. Volumes
//     and claims as asked are never replaced, recreate or not.
//
// A retained volume whose claim was deleted (phase Released) is made
// available again for the new claim. When the claim does not bind within
// v.BindTimeout the error is a *NotBoundError, with the claim's events.
func EnsureNFS(ctx context.Context, c *Client, v NFSVolume, recreate bool) (Outcome, error) {
	v, err := v.withDefaults()
	if err != nil {
		return Unchanged, err
	}
	pv, err := c.GetPersistentVolume(ctx, v.Name)
	if errors.Is(err, ErrNotFound) {
		pv, err = nil, nil
	}
	if err != nil {
		return Unchanged, err
	}
	pvc, err := c.GetPersistentVolumeClaim(ctx, ClaimNamespace, v.Claim)
	if errors.Is(err, ErrNotFound) {
		pvc, err = nil, nil
	}
	if err != nil {
		return Unchanged, err
	}

	outcome := Unchanged
	if diffs := v.diff(pv, pvc); len(diffs) > 0 {
		if !recreate {
			return Unchanged, &ConflictError{Volume: v.Name, Claim: ClaimNamespace + "/" + v.Claim, Diffs: diffs}
		}
		if err := removeNFS(ctx, c, v); err != nil {
			return Unchanged, err
		}
		pv, pvc, outcome = nil, nil, Recreated
	}

	if pv == nil {
		if _, err := c.CreatePersistentVolume(ctx, v.persistentVolume()); err != nil {
			return outcome, err
		}
		if outcome == Unchanged {
			outcome = Created
		}
	} else if staleClaimRef(pv, pvc, v.Claim) {
		// Retained after its claim was deleted: the binder never binds
		// it to a new claim until the reference to the old one is gone.
		if _, err := c.PatchPersistentVolume(ctx, v.Name, []byte(`{"spec":{"claimRef":null}}`)); err != nil {
			return outcome, err
		}
		if outcome == Unchanged {
			outcome = Created
		}
	}
	if pvc == nil {
		if _, err := c.CreatePersistentVolumeClaim(ctx, v.persistentVolumeClaim()); err != nil {
			return outcome, err
		}
		if outcome == Unchanged {
			outcome = Created
		}
	}
	return outcome, waitBound(ctx, c, v)
}

// staleClaimRef reports whether the volume still refers to a claim that no
// longer exists: one released by the binder, or one bound to a claim of
// ours that was deleted since (the binder has not noticed yet).
func staleClaimRef(pv *PersistentVolume, pvc *PersistentVolumeClaim, claim string) bool {
	ref := pv.Spec.ClaimRef
	if ref == nil || ref.UID == "" || (pvc != nil && ref.UID == pvc.Metadata.UID) {
		return false
	}
	return pv.Status.Phase == "Released" || (ref.Namespace == ClaimNamespace && ref.Name == claim)
}

// diff compares the existing volume and claim (nil when missing) with what
// v asks for, field by field, for the fields EnsureNFS sets.
func (v NFSVolume) diff(pv *PersistentVolume, pvc *PersistentVolumeClaim) []FieldDiff {
	var diffs []FieldDiff
	if pv != nil {
		obj := "persistentvolume " + v.Name
		add := func(field, have, want string) {
			diffs = append(diffs, FieldDiff{Object: obj, Field: field, Have: have, Want: want})
		}
		if have := pv.Metadata.Labels["name"]; have != v.Label {
			add("metadata.labels.name", quote(have), quote(v.Label))
		}
		if nfs := pv.Spec.NFS; nfs == nil {
			add("spec.nfs", "not set (not an NFS volume)", fmt.Sprintf("server %q path %q", v.Server, v.Path))
		} else {
			if nfs.Server != v.Server {
				add("spec.nfs.server", quote(nfs.Server), quote(v.Server))
			}
			if nfs.Path != v.Path {
				add("spec.nfs.path", quote(nfs.Path), quote(v.Path))
			}
			if nfs.ReadOnly != v.ReadOnly {
				add("spec.nfs.readOnly", fmt.Sprint(nfs.ReadOnly), fmt.Sprint(v.ReadOnly))
			}
		}
		if !slices.Equal(pv.Spec.MountOptions, v.MountOptions) {
			add("spec.mountOptions", bracket(pv.Spec.MountOptions), bracket(v.MountOptions))
		}
		if !sameSet(pv.Spec.AccessModes, []string{"ReadWriteMany"}) {
			add("spec.accessModes", bracket(pv.Spec.AccessModes), "[ReadWriteMany]")
		}
		if pv.Spec.PersistentVolumeReclaimPolicy != "Retain" {
			add("spec.persistentVolumeReclaimPolicy", quote(pv.Spec.PersistentVolumeReclaimPolicy), `"Retain"`)
		}
		if have := pv.Spec.Capacity["storage"]; !sameQuantity(have, v.Capacity) {
			add("spec.capacity.storage", quote(have), quote(v.Capacity))
		}
		if have := deref(pv.Spec.VolumeMode, "Filesystem"); have != "Filesystem" {
			add("spec.volumeMode", quote(have), `"Filesystem"`)
		}
		if pv.Spec.StorageClassName != "" {
			add("spec.storageClassName", quote(pv.Spec.StorageClassName), `""`)
		}
		if ref := pv.Spec.ClaimRef; ref != nil && pv.Status.Phase != "Released" && (ref.Namespace != ClaimNamespace || ref.Name != v.Claim) {
			add("spec.claimRef", quote(ref.Namespace+"/"+ref.Name), quote(ClaimNamespace+"/"+v.Claim))
		}
		if pv.Status.Phase == "Failed" {
			add("status.phase", `"Failed"`, `"Bound"`)
		}
		if pv.Metadata.DeletionTimestamp != nil {
			add("metadata.deletionTimestamp", "set (being deleted)", "not set")
		}
	}
	if pvc != nil {
		obj := "persistentvolumeclaim " + ClaimNamespace + "/" + v.Claim
		add := func(field, have, want string) {
			diffs = append(diffs, FieldDiff{Object: obj, Field: field, Have: have, Want: want})
		}
		sel := pvc.Spec.Selector
		switch {
		case sel == nil:
			add("spec.selector", "not set", fmt.Sprintf("matchLabels name=%s", v.Label))
		case len(sel.MatchExpressions) > 0 || len(sel.MatchLabels) != 1 || sel.MatchLabels["name"] != v.Label:
			add("spec.selector.matchLabels", labels(sel.MatchLabels, len(sel.MatchExpressions) > 0), "name="+v.Label)
		}
		if !sameSet(pvc.Spec.AccessModes, []string{"ReadWriteMany"}) {
			add("spec.accessModes", bracket(pvc.Spec.AccessModes), "[ReadWriteMany]")
		}
		if have := pvc.Spec.Resources.Requests["storage"]; !sameQuantity(have, v.Capacity) {
			add("spec.resources.requests.storage", quote(have), quote(v.Capacity))
		}
		if have := deref(pvc.Spec.VolumeMode, "Filesystem"); have != "Filesystem" {
			add("spec.volumeMode", quote(have), `"Filesystem"`)
		}
		if have := deref(pvc.Spec.StorageClassName, ""); have != "" {
			add("spec.storageClassName", quote(have), `""`)
		}
		if pvc.Spec.VolumeName != "" && pvc.Spec.VolumeName != v.Name {
			add("spec.volumeName", quote(pvc.Spec.VolumeName), quote(v.Name))
		}
		if pvc.Status.Phase == "Lost" {
			add("status.phase", `"Lost" (its volume is gone)`, `"Bound"`)
		}
		if pvc.Metadata.DeletionTimestamp != nil {
			add("metadata.deletionTimestamp", "set (being deleted)", "not set")
		}
	}
	return diffs
}

// removeNFS clears the finalizers of the claim and the volume v names,
// deletes both, and waits until both are gone.
func removeNFS(ctx context.Context, c *Client, v NFSVolume) error {
	ignoreGone := func(err error) error {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	if _, err := c.PatchPersistentVolumeClaim(ctx, ClaimNamespace, v.Claim, clearFinalizers); ignoreGone(err) != nil {
		return err
	}
	if err := c.DeletePersistentVolumeClaim(ctx, ClaimNamespace, v.Claim); ignoreGone(err) != nil {
		return err
	}
	if _, err := c.PatchPersistentVolume(ctx, v.Name, clearFinalizers); ignoreGone(err) != nil {
		return err
	}
	if err := c.DeletePersistentVolume(ctx, v.Name); ignoreGone(err) != nil {
		return err
	}
	// Gone once deleted with no finalizers left; a controller may have
	// added one back in between, so clear again while waiting.
	wctx, cancel := context.WithTimeout(ctx, v.BindTimeout)
	defer cancel()
	err := c.pollUntil(wctx, func() (bool, error) {
		pvc, err := c.GetPersistentVolumeClaim(wctx, ClaimNamespace, v.Claim)
		if err == nil {
			if len(pvc.Metadata.Finalizers) > 0 {
				_, err = c.PatchPersistentVolumeClaim(wctx, ClaimNamespace, v.Claim, clearFinalizers)
			}
			return false, ignoreGone(err)
		}
		if !errors.Is(err, ErrNotFound) {
			return false, err
		}
		pv, err := c.GetPersistentVolume(wctx, v.Name)
		if err == nil {
			if len(pv.Metadata.Finalizers) > 0 {
				_, err = c.PatchPersistentVolume(wctx, v.Name, clearFinalizers)
			}
			return false, ignoreGone(err)
		}
		return errors.Is(err, ErrNotFound), ignoreGone(err)
	})
	if err != nil {
		return fmt.Errorf("waiting for persistentvolume %s and claim %s/%s to be deleted: %w", v.Name, ClaimNamespace, v.Claim, err)
	}
	return nil
}

// waitBound waits up to v.BindTimeout for the claim to be Bound to the
// volume.
func waitBound(ctx context.Context, c *Client, v NFSVolume) error {
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, v.BindTimeout)
	defer cancel()
	pvc, err := c.WaitClaimBound(wctx, ClaimNamespace, v.Claim)
	claim := ClaimNamespace + "/" + v.Claim
	switch {
	case err == nil && pvc.Spec.VolumeName == v.Name:
		return nil
	case err == nil:
		return &NotBoundError{Claim: claim, Volume: v.Name, Phase: pvc.Status.Phase, BoundTo: pvc.Spec.VolumeName, Waited: time.Since(start)}
	case ctx.Err() != nil:
		// The caller gave up (or its own deadline passed).
		return fmt.Errorf("waiting for claim %s to bind: %w", claim, ctx.Err())
	case !errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("waiting for claim %s to bind: %w", claim, err)
	}
	nb := &NotBoundError{Claim: claim, Volume: v.Name, Waited: time.Since(start)}
	if pvc != nil {
		nb.Phase = pvc.Status.Phase
		events, err := c.ListEvents(ctx, ClaimNamespace, ObjectReference{Kind: "PersistentVolumeClaim", Name: v.Claim, UID: pvc.Metadata.UID})
		if err == nil {
			for _, e := range events {
				nb.Events = append(nb.Events, joinNonEmpty(": ", e.Reason, e.Message))
			}
			if len(nb.Events) > 5 {
				nb.Events = nb.Events[len(nb.Events)-5:]
			}
		}
	}
	return nb
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

func bracket(s []string) string { return "[" + strings.Join(s, " ") + "]" }

func labels(m map[string]string, expressions bool) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	if expressions {
		parts = append(parts, "and matchExpressions")
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, ",")
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

func deref(p *string, def string) string {
	if p == nil || *p == "" {
		return def
	}
	return *p
}

package kube

import "time"

// The types below are the parts of core/v1 objects this package reads or
// writes, with the API's JSON names. Fields the API server sets but this
// package never reads are dropped when decoding; objects are therefore
// never written back whole (changes go through merge patches).

// ObjectMeta is the metadata every object has.
type ObjectMeta struct {
	Name              string            `json:"name,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	Finalizers        []string          `json:"finalizers,omitempty"`
	CreationTimestamp *time.Time        `json:"creationTimestamp,omitempty"`
	DeletionTimestamp *time.Time        `json:"deletionTimestamp,omitempty"`
}

// ObjectReference points at another object.
type ObjectReference struct {
	Kind            string `json:"kind,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// Node is a cluster member.
type Node struct {
	Metadata ObjectMeta `json:"metadata"`
	Spec     NodeSpec   `json:"spec"`
	Status   NodeStatus `json:"status"`
}

// NodeSpec is the part of a node's spec this package reads.
type NodeSpec struct {
	Unschedulable bool `json:"unschedulable,omitempty"`
}

// NodeStatus is the part of a node's status this package reads.
type NodeStatus struct {
	Conditions []NodeCondition `json:"conditions,omitempty"`
	Addresses  []NodeAddress   `json:"addresses,omitempty"`
	NodeInfo   NodeInfo        `json:"nodeInfo"`
}

// NodeCondition is one of the conditions a kubelet reports: Ready,
// MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable.
type NodeCondition struct {
	Type               string     `json:"type"`
	Status             string     `json:"status"`
	Reason             string     `json:"reason,omitempty"`
	Message            string     `json:"message,omitempty"`
	LastHeartbeatTime  *time.Time `json:"lastHeartbeatTime,omitempty"`
	LastTransitionTime *time.Time `json:"lastTransitionTime,omitempty"`
}

// NodeAddress is one of a node's addresses (InternalIP, Hostname, ...).
type NodeAddress struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

// NodeInfo is what the kubelet reports about its machine.
type NodeInfo struct {
	KubeletVersion          string `json:"kubeletVersion,omitempty"`
	ContainerRuntimeVersion string `json:"containerRuntimeVersion,omitempty"`
	OSImage                 string `json:"osImage,omitempty"`
}

// Pod is a group of containers on a node.
type Pod struct {
	Metadata ObjectMeta `json:"metadata"`
	Spec     PodSpec    `json:"spec"`
	Status   PodStatus  `json:"status"`
}

// PodSpec is the part of a pod's spec this package reads.
type PodSpec struct {
	NodeName       string      `json:"nodeName,omitempty"`
	InitContainers []Container `json:"initContainers,omitempty"`
	Containers     []Container `json:"containers"`
}

// Container is a container of a pod's spec.
type Container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// PodStatus is the part of a pod's status this package reads.
type PodStatus struct {
	// Phase is Pending, Running, Succeeded, Failed or Unknown.
	Phase                 string            `json:"phase,omitempty"`
	Reason                string            `json:"reason,omitempty"`
	Message               string            `json:"message,omitempty"`
	Conditions            []PodCondition    `json:"conditions,omitempty"`
	InitContainerStatuses []ContainerStatus `json:"initContainerStatuses,omitempty"`
	ContainerStatuses     []ContainerStatus `json:"containerStatuses,omitempty"`
}

// PodCondition is one of PodScheduled, Initialized, ContainersReady, Ready.
type PodCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// ContainerStatus is what the kubelet reports about one container.
type ContainerStatus struct {
	Name                 string         `json:"name"`
	Image                string         `json:"image"`
	ImageID              string         `json:"imageID"`
	Ready                bool           `json:"ready"`
	RestartCount         int32          `json:"restartCount"`
	State                ContainerState `json:"state"`
	LastTerminationState ContainerState `json:"lastState"`
}

// ContainerState holds exactly one of its fields, or none.
type ContainerState struct {
	Waiting    *ContainerStateWaiting    `json:"waiting,omitempty"`
	Running    *ContainerStateRunning    `json:"running,omitempty"`
	Terminated *ContainerStateTerminated `json:"terminated,omitempty"`
}

// ContainerStateWaiting is a container not started yet: ContainerCreating,
// ErrImagePull, ImagePullBackOff, CrashLoopBackOff, ...
type ContainerStateWaiting struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// ContainerStateRunning is a running container.
type ContainerStateRunning struct {
	StartedAt *time.Time `json:"startedAt,omitempty"`
}

// ContainerStateTerminated is a container that exited.
type ContainerStateTerminated struct {
	ExitCode int32  `json:"exitCode"`
	Signal   int32  `json:"signal,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
}

// Event is something a component reported about an object.
type Event struct {
	Metadata       ObjectMeta      `json:"metadata"`
	InvolvedObject ObjectReference `json:"involvedObject"`
	// Type is Normal or Warning.
	Type           string      `json:"type,omitempty"`
	Reason         string      `json:"reason,omitempty"`
	Message        string      `json:"message,omitempty"`
	Count          int32       `json:"count,omitempty"`
	Source         EventSource `json:"source"`
	FirstTimestamp *time.Time  `json:"firstTimestamp,omitempty"`
	LastTimestamp  *time.Time  `json:"lastTimestamp,omitempty"`
	EventTime      *time.Time  `json:"eventTime,omitempty"`
}

// EventSource names the component that reported an event.
type EventSource struct {
	Component string `json:"component,omitempty"`
	Host      string `json:"host,omitempty"`
}

// when is the event's latest time, for ordering.
func (e *Event) when() time.Time {
	for _, t := range []*time.Time{e.LastTimestamp, e.EventTime, e.FirstTimestamp, e.Metadata.CreationTimestamp} {
		if t != nil && !t.IsZero() {
			return *t
		}
	}
	return time.Time{}
}

// PersistentVolume is a piece of storage in the cluster.
type PersistentVolume struct {
	APIVersion string                 `json:"apiVersion,omitempty"`
	Kind       string                 `json:"kind,omitempty"`
	Metadata   ObjectMeta             `json:"metadata"`
	Spec       PersistentVolumeSpec   `json:"spec"`
	Status     PersistentVolumeStatus `json:"status"`
}

// PersistentVolumeSpec is the part of a volume's spec this package reads or
// writes.
type PersistentVolumeSpec struct {
	// Capacity maps "storage" to a quantity such as "10000Gi".
	Capacity    map[string]string `json:"capacity,omitempty"`
	AccessModes []string          `json:"accessModes,omitempty"`
	// PersistentVolumeReclaimPolicy is Retain, Delete or Recycle.
	PersistentVolumeReclaimPolicy string           `json:"persistentVolumeReclaimPolicy,omitempty"`
	MountOptions                  []string         `json:"mountOptions,omitempty"`
	VolumeMode                    *string          `json:"volumeMode,omitempty"`
	StorageClassName              string           `json:"storageClassName,omitempty"`
	NFS                           *NFSVolumeSource `json:"nfs,omitempty"`
	ClaimRef                      *ObjectReference `json:"claimRef,omitempty"`
}

// NFSVolumeSource is an NFS export.
type NFSVolumeSource struct {
	Server   string `json:"server"`
	Path     string `json:"path"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// PersistentVolumeStatus is a volume's status.
type PersistentVolumeStatus struct {
	// Phase is Pending, Available, Bound, Released or Failed.
	Phase   string `json:"phase,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// PersistentVolumeClaim is a request for storage.
type PersistentVolumeClaim struct {
	APIVersion string                      `json:"apiVersion,omitempty"`
	Kind       string                      `json:"kind,omitempty"`
	Metadata   ObjectMeta                  `json:"metadata"`
	Spec       PersistentVolumeClaimSpec   `json:"spec"`
	Status     PersistentVolumeClaimStatus `json:"status"`
}

// PersistentVolumeClaimSpec is the part of a claim's spec this package reads
// or writes.
type PersistentVolumeClaimSpec struct {
	AccessModes []string             `json:"accessModes,omitempty"`
	Selector    *LabelSelector       `json:"selector,omitempty"`
	Resources   ResourceRequirements `json:"resources"`
	VolumeName  string               `json:"volumeName,omitempty"`
	VolumeMode  *string              `json:"volumeMode,omitempty"`
	// StorageClassName nil lets the cluster's default class apply; ""
	// asks for a volume without a class.
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// LabelSelector selects objects by their labels.
type LabelSelector struct {
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
	// MatchExpressions is kept only to notice that it is set.
	MatchExpressions []map[string]any `json:"matchExpressions,omitempty"`
}

// ResourceRequirements holds a claim's requested size under "storage".
type ResourceRequirements struct {
	Requests map[string]string `json:"requests,omitempty"`
}

// PersistentVolumeClaimStatus is a claim's status.
type PersistentVolumeClaimStatus struct {
	// Phase is Pending, Bound or Lost.
	Phase    string            `json:"phase,omitempty"`
	Capacity map[string]string `json:"capacity,omitempty"`
}

// Version is the API server's /version.
type Version struct {
	GitVersion string `json:"gitVersion"`
	Major      string `json:"major"`
	Minor      string `json:"minor"`
	Platform   string `json:"platform"`
}

// status is the API's error body (meta/v1 Status).
type status struct {
	Kind    string `json:"kind"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Code    int    `json:"code"`
}

package kube

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/distribution/reference"
)

// CheckOptions tunes CheckCluster.
type CheckOptions struct {
	// Namespaces are the namespaces whose pods are checked; default every
	// namespace (OpenPAI runs in default and kube-system).
	Namespaces []string
	// NoEvents skips reading the events of pods that cannot pull an image
	// (the events say why the pull failed; the pod status only says
	// "Back-off pulling image"). Default false: events are read.
	NoEvents bool
}

// ClusterReport is what CheckCluster found.
type ClusterReport struct {
	// Server is the API server's URL and Version its version.
	Server, Version string
	// Nodes counts the nodes, Ready those that are Ready.
	Nodes, Ready int
	// NodeProblems are the nodes that are not Ready or report pressure,
	// sorted by name.
	NodeProblems []NodeProblem
	// Pods counts the pods checked.
	Pods int
	// PodProblems are the pods that are neither Running with every
	// container ready nor Succeeded, sorted by namespace and name.
	PodProblems []PodProblem
}

// Healthy reports whether there is at least one node and nothing is wrong.
func (r *ClusterReport) Healthy() bool {
	return r.Nodes > 0 && len(r.NodeProblems) == 0 && len(r.PodProblems) == 0
}

// ImagePullProblems returns every container that cannot pull its image.
func (r *ClusterReport) ImagePullProblems() []ContainerProblem {
	var out []ContainerProblem
	for _, p := range r.PodProblems {
		for _, c := range p.Containers {
			if c.ImagePull {
				out = append(out, c)
			}
		}
	}
	return out
}

// NodeProblem is a node that is not Ready or reports a problem.
type NodeProblem struct {
	Name string
	// Ready is false when the node's Ready condition is not True.
	Ready bool
	// Unschedulable is true for a cordoned node.
	Unschedulable bool
	// Conditions are the conditions that are wrong: Ready when not True,
	// the pressure conditions and NetworkUnavailable when True. A node
	// whose kubelet never reported has a Ready condition with status
	// "Unknown" and reason "NoStatus".
	Conditions []NodeCondition
}

// String renders the problem on one line.
func (p NodeProblem) String() string {
	var parts []string
	for _, c := range p.Conditions {
		s := c.Type + "=" + c.Status
		if why := joinNonEmpty(": ", c.Reason, c.Message); why != "" {
			s += " (" + why + ")"
		}
		parts = append(parts, s)
	}
	if p.Unschedulable {
		parts = append(parts, "cordoned (unschedulable)")
	}
	state := "Ready"
	if !p.Ready {
		state = "not Ready"
	}
	return fmt.Sprintf("%s: %s: %s", p.Name, state, strings.Join(parts, "; "))
}

// PodProblem is a pod that is not running as it should.
type PodProblem struct {
	Namespace, Name, Node string
	// Phase is the pod's phase: Pending, Running, Failed or Unknown.
	Phase string
	// Reason and Message say why, when the pod itself says (an eviction,
	// an unschedulable pod: "0/3 nodes are available: ...").
	Reason, Message string
	// Containers are the containers that are not running and ready.
	Containers []ContainerProblem
}

// String renders the problem, one line for the pod and one more for each
// container.
func (p PodProblem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s", p.Namespace, p.Name)
	if p.Node != "" {
		fmt.Fprintf(&b, " on %s", p.Node)
	}
	fmt.Fprintf(&b, ": %s", p.Phase)
	if why := joinNonEmpty(": ", p.Reason, p.Message); why != "" {
		fmt.Fprintf(&b, " (%s)", why)
	}
	for _, c := range p.Containers {
		b.WriteString("\n  ")
		b.WriteString(c.String())
	}
	return b.String()
}

// ContainerProblem is a container that is not running and ready.
type ContainerProblem struct {
	// Pod is the pod's namespace/name.
	Pod string
	// Name is the container's name; Init is true for an init container.
	Name string
	Init bool
	// Image is the image the pod asks for, as written in its spec.
	Image string
	// Registry is the registry host the image is pulled from: the host
	// part of Image ("10.0.0.9:5000"), or "docker.io" for Docker Hub
	// names. Upstream is the registry the mirror stands in for, when
	// Image is a mirror name such as "10.0.0.9:5000/gcr.io/x/y:tag"
	// ("gcr.io"); empty otherwise.
	Registry, Upstream string
	// State is "waiting", "terminated" or "running" (running but not
	// ready); Reason and Message are the kubelet's, for example
	// "ImagePullBackOff" and `Back-off pulling image "..."`.
	State, Reason, Message string
	// ExitCode is the exit code of a terminated container.
	ExitCode int32
	// Restarts counts the container's restarts.
	Restarts int32
	// ImagePull is true when the container cannot pull its image
	// (ErrImagePull, ImagePullBackOff, ...).
	ImagePull bool
	// PullError is the latest image-pull failure the pod's events report,
	// typically `Failed to pull image "...": rpc error: ...`; empty when
	// there is none or events were not read.
	PullError string
}

// String renders the problem on one line; an image pull failure as
// `container x: pull of IMAGE from REGISTRY failed: ...`.
func (c ContainerProblem) String() string {
	kind := "container"
	if c.Init {
		kind = "init container"
	}
	if c.ImagePull {
		why := c.PullError
		if why == "" {
			why = joinNonEmpty(": ", c.Reason, c.Message)
		} else {
			why = c.Reason + ": " + why
		}
		return fmt.Sprintf("%s %s: pull of %s from %s failed: %s", kind, c.Name, c.Image, c.Registry, why)
	}
	s := fmt.Sprintf("%s %s (%s): %s", kind, c.Name, c.Image, c.State)
	if c.State == "running" {
		s += " but not ready"
	}
	if why := joinNonEmpty(": ", c.Reason, c.Message); why != "" {
		s += " " + why
	}
	if c.State == "terminated" {
		s += fmt.Sprintf(" (exit code %d)", c.ExitCode)
	}
	if c.Restarts > 0 {
		s += fmt.Sprintf(", %d restarts", c.Restarts)
	}
	return s
}

// String renders the whole report for a terminal: a summary line for nodes
// and pods, then each problem.
func (r *ClusterReport) String() string {
	var b strings.Builder
	if r.Server != "" {
		fmt.Fprintf(&b, "cluster %s", r.Server)
		if r.Version != "" {
			fmt.Fprintf(&b, " (%s)", r.Version)
		}
		b.WriteString("\n")
	}
	switch {
	case r.Nodes == 0:
		b.WriteString("nodes: none registered\n")
	default:
		fmt.Fprintf(&b, "nodes: %d of %d Ready\n", r.Ready, r.Nodes)
	}
	for _, p := range r.NodeProblems {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	if len(r.PodProblems) == 0 {
		fmt.Fprintf(&b, "pods: all %d running\n", r.Pods)
	} else {
		fmt.Fprintf(&b, "pods: %d of %d not running\n", len(r.PodProblems), r.Pods)
	}
	for _, p := range r.PodProblems {
		for _, line := range strings.Split(p.String(), "\n") {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	return b.String()
}

// CheckCluster reports the nodes that are not Ready and the pods that are
// not running, with the reasons the cluster gives: node conditions,
// container states, and for images that cannot be pulled the image, the
// registry it is pulled from and the pull error from the pod's events.
// Pods are checked in opts.Namespaces (default all). An error means the
// cluster could not be asked, not that it is unhealthy; see Healthy.
func CheckCluster(ctx context.Context, c *Client, opts CheckOptions) (*ClusterReport, error) {
	r := &ClusterReport{Server: c.Server()}
	if v, err := c.ServerVersion(ctx); err == nil {
		r.Version = v.GitVersion
	}
	nodes, err := c.ListNodes(ctx)
	if err != nil {
		return nil, err
	}
	r.Nodes = len(nodes)
	for _, n := range nodes {
		p := checkNode(n)
		if p.Ready {
			r.Ready++
		}
		if len(p.Conditions) > 0 || p.Unschedulable {
			r.NodeProblems = append(r.NodeProblems, p)
		}
	}
	sort.Slice(r.NodeProblems, func(i, j int) bool { return r.NodeProblems[i].Name < r.NodeProblems[j].Name })

	var pods []Pod
	if len(opts.Namespaces) == 0 {
		if pods, err = c.ListPods(ctx, ""); err != nil {
			return nil, err
		}
	}
	for _, ns := range opts.Namespaces {
		p, err := c.ListPods(ctx, ns)
		if err != nil {
			return nil, err
		}
		pods = append(pods, p...)
	}
	r.Pods = len(pods)
	for _, pod := range pods {
		p, ok := checkPod(pod)
		if !ok {
			continue
		}
		if !opts.NoEvents && slices.ContainsFunc(p.Containers, func(c ContainerProblem) bool { return c.ImagePull }) {
			events, err := c.ListEvents(ctx, pod.Metadata.Namespace, ObjectReference{Kind: "Pod", Name: pod.Metadata.Name, UID: pod.Metadata.UID})
			if err != nil {
				return nil, err
			}
			addPullErrors(&p, events)
		}
		r.PodProblems = append(r.PodProblems, p)
	}
	sort.Slice(r.PodProblems, func(i, j int) bool {
		a, b := r.PodProblems[i], r.PodProblems[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return r, nil
}

// checkNode returns what is wrong with a node; Ready tells whether it is.
func checkNode(n Node) NodeProblem {
	p := NodeProblem{Name: n.Metadata.Name, Unschedulable: n.Spec.Unschedulable}
	sawReady := false
	for _, c := range n.Status.Conditions {
		switch c.Type {
		case "Ready":
			sawReady = true
			if c.Status == "True" {
				p.Ready = true
			} else {
				p.Conditions = append(p.Conditions, c)
			}
		default:
			// MemoryPressure, DiskPressure, PIDPressure,
			// NetworkUnavailable, and others: True is bad.
			if c.Status == "True" {
				p.Conditions = append(p.Conditions, c)
			}
		}
	}
	if !sawReady {
		p.Conditions = append([]NodeCondition{{Type: "Ready", Status: "Unknown", Reason: "NoStatus", Message: "the kubelet has not reported the node's status"}}, p.Conditions...)
	}
	return p
}

// pullReasons are the waiting reasons of a container whose image cannot be
// pulled.
var pullReasons = map[string]bool{
	"ErrImagePull":        true,
	"ImagePullBackOff":    true,
	"ErrImageNeverPull":   true,
	"InvalidImageName":    true,
	"RegistryUnavailable": true,
	"ErrImageInspect":     true,
}

// checkPod returns what is wrong with a pod, and false when nothing is.
func checkPod(pod Pod) (PodProblem, bool) {
	st := pod.Status
	p := PodProblem{
		Namespace: pod.Metadata.Namespace,
		Name:      pod.Metadata.Name,
		Node:      pod.Spec.NodeName,
		Phase:     st.Phase,
		Reason:    st.Reason,
		Message:   st.Message,
	}
	if p.Phase == "" {
		p.Phase = "Pending"
	}
	if p.Phase == "Succeeded" {
		return p, false
	}
	id := p.Namespace + "/" + p.Name
	images := map[string]string{}
	for _, c := range pod.Spec.InitContainers {
		images["init/"+c.Name] = c.Image
	}
	for _, c := range pod.Spec.Containers {
		images[c.Name] = c.Image
	}
	check := func(cs ContainerStatus, init bool) {
		key := cs.Name
		if init {
			key = "init/" + key
		}
		image := images[key]
		if image == "" {
			image = cs.Image
		}
		cp := ContainerProblem{Pod: id, Name: cs.Name, Init: init, Image: image, Restarts: cs.RestartCount}
		cp.Registry, cp.Upstream = registryOf(image)
		switch s := cs.State; {
		case s.Waiting != nil:
			cp.State, cp.Reason, cp.Message = "waiting", s.Waiting.Reason, s.Waiting.Message
			cp.ImagePull = pullReasons[s.Waiting.Reason]
		case s.Terminated != nil:
			if init && s.Terminated.ExitCode == 0 {
				return // an init container that finished
			}
			cp.State, cp.Reason, cp.Message, cp.ExitCode = "terminated", s.Terminated.Reason, s.Terminated.Message, s.Terminated.ExitCode
		case s.Running != nil:
			if cs.Ready || init {
				return
			}
			cp.State = "running"
			if t := cs.LastTerminationState.Terminated; t != nil && cs.RestartCount > 0 {
				cp.Reason = "last exit: " + joinNonEmpty(": ", t.Reason, t.Message)
			}
		default:
			cp.State, cp.Reason = "waiting", "Unknown"
		}
		p.Containers = append(p.Containers, cp)
	}
	for _, cs := range st.InitContainerStatuses {
		check(cs, true)
	}
	for _, cs := range st.ContainerStatuses {
		check(cs, false)
	}
	// A pod not scheduled (or not yet started) has no container statuses;
	// its conditions say why.
	if p.Reason == "" && p.Message == "" {
		for _, c := range st.Conditions {
			if c.Status == "False" && (c.Reason != "" || c.Message != "") {
				p.Reason, p.Message = c.Reason, c.Message
				break
			}
		}
	}
	if p.Phase == "Running" && len(p.Containers) == 0 {
		return p, false
	}
	return p, true
}

// registryOf returns the registry host an image is pulled from and, for a
// mirror name that repeats an upstream registry's host in its path, that
// upstream ("gcr.io" in "10.0.0.9:5000/gcr.io/google-containers/pause:3.1").
func registryOf(image string) (registry, upstream string) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		// Not a valid reference (InvalidImageName): the first path
		// element is the best guess.
		host, _, _ := strings.Cut(image, "/")
		return host, ""
	}
	registry = reference.Domain(named)
	first, rest, ok := strings.Cut(reference.Path(named), "/")
	if ok && rest != "" && (strings.ContainsAny(first, ".:") || first == "localhost") {
		upstream = first
	}
	return registry, upstream
}

// addPullErrors fills in each image-pull problem's PullError with the latest
// event that reports a failed pull of its image.
func addPullErrors(p *PodProblem, events []Event) {
	for i := range p.Containers {
		c := &p.Containers[i]
		if !c.ImagePull {
			continue
		}
		for j := len(events) - 1; j >= 0; j-- {
			e := events[j]
			if e.Reason != "Failed" && e.Reason != "ErrImagePull" && e.Reason != "InspectFailed" {
				continue
			}
			if !strings.Contains(e.Message, c.Image) {
				continue
			}
			c.PullError = e.Message
			break
		}
	}
}

// sortEvents orders events oldest first.
func sortEvents(events []Event) {
	sort.SliceStable(events, func(i, j int) bool { return events[i].when().Before(events[j].when()) })
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

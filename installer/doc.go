// Package installer is the dev-box side of paimirror: it takes a pai v1.8.0
// checkout and a running mirror and carries out the seed guide's install
// with no internet, as resumable steps:
//
//	patch      point config.yaml (and, when the bundle carries Docker's
//	           apt repository, kubespray's docker_ubuntu_repo_*), the
//	           docker-cache playbook, the device plugin script and pai's
//	           requirement checks at the mirror (package patch)
//	preflight  check every machine of layout.yaml over SSH (package nodes),
//	           with the apt check when the bundle carries apt repositories
//	prepare    add the mirror to every node's and the dev box's docker and,
//	           when the bundle carries apt repositories, point their apt at
//	           the mirror's repositories for their release
//	kubespray  run quick-start-kubespray.sh, prompts answered (package
//	           quickstart, which runs the scripts and nothing else)
//	services   run quick-start-service.sh
//	verify     every node Ready and the OpenPAI pods running (package kube)
//
// Each step is idempotent; the state directory records which are done, so
// a rerun resumes after the last finished one (package steps: Plan, Run,
// State, state.json). The installer talks to the mirror over HTTP like any
// client (it reads the bundle's lock from /paimirror.json), so serve and
// install may run on different machines.
//
// DryRun changes nothing: it returns a Preview (the patch, whose Diff the
// command shows, the scan's findings, the steps that would run and, with
// the storage step, its plan from storage.NewPlan) and reports each
// warning apart (config.yaml's docker_image_tag naming OpenPAI images the
// bundle lacks, a device plugin file missing for a device type
// layout.yaml has, ...). With Options.Bundle it reads the lock from the
// bundle file and needs no mirror running.
//
// RestoreApt undoes prepare's apt changes after the install (paimirror
// install --restore-apt).
//
// pai's own files (their paths, layout.yaml and config.yaml) are read
// through package pai, by this package and the steps' packages alike.
//
// Install never prints. Every step's progress, the storage step's own steps
// and the scripts' status lines reach Options.Report as one type,
// steps.Event; what a step found or did (the patch, the preflight table,
// what prepare did on each machine, the cluster's health, the storage
// result) is data in its Done or Failed event (Event.Result), which the
// command renders. Install never passes config.yaml's password anywhere
// but to sshd and sudo.
package installer

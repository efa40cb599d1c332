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
//	kubespray  run quick-start-kubespray.sh, prompts answered (package quickstart)
//	services   run quick-start-service.sh
//	verify     every node Ready and the OpenPAI pods running (package kube)
//
// Each step is idempotent; the state directory records which are done, so
// a rerun resumes after the last finished one (package quickstart's State).
// The installer talks to the mirror over HTTP like any client (it reads the
// bundle's lock from /paimirror.json), so serve and install may run on
// different machines.
//
// A dry run (Options.DryRun) changes nothing: it reports the patch as a
// diff (ReportText), each warning apart (ReportWarning: config.yaml's
// docker_image_tag naming OpenPAI images the bundle lacks, a device plugin
// file missing for a device type layout.yaml has, ...), the steps that
// would run and, with the storage step, its plan (storage.NewPlan). With
// Options.Bundle it reads the lock from the bundle file and needs no
// mirror running.
//
// RestoreApt undoes prepare's apt changes after the install (paimirror
// install --restore-apt).
//
// pai's own files (their paths, layout.yaml and config.yaml) are read
// through package pai, by this package and the steps' packages alike.
//
// Install never prints: it reports through Options.Report with plain values,
// and never passes config.yaml's password anywhere but to sshd and sudo.
package installer

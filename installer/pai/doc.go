// Package pai is what paimirror knows of OpenPAI v1.8.0's own files: the
// one place that names them and reads them. Every other installer
// package goes through it.
//
// # What it owns
//
//   - The tree's paths: the files of a pai checkout that the install
//     reads, patches or runs (ConfigFile, LayoutFile, DockerCacheFile,
//     RequirementFiles, the quick-start scripts in KubesprayDir, ...),
//     relative to the checkout; the cluster configuration directory the
//     quick-start fills (~/pai-deploy/cluster-cfg: ConfigName,
//     LayoutName, ServicesName); and OrigSuffix, the name of the
//     original paimirror keeps of a file it edits.
//   - layout.yaml: ValidateLayout checks it by the rules of pai's
//     validate_layout_schema.py (plus pai-storage only on workers), and
//     ParseLayout, the one reader, returns its machines once valid.
//   - config.yaml: ReadConfig reads what the installer needs of it (the
//     nodes' SSH login, docker_image_tag, docker_registry_namespace);
//     CheckLogin says what the login lacks.
//   - PyType: how pai's PyYAML (YAML 1.1) types a value, where that
//     differs from yaml.v3.
//
// Editing pai's files as text is not here: manifests/yamltext is the
// editor, and package patch and package storage make the edits.
//
// # Concurrency
//
// Everything here only reads its arguments (and ReadConfig its file) and
// is safe for concurrent use.
package pai

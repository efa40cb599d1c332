package pai

// The files of a pai v1.8.0 checkout that paimirror reads, patches or
// runs, relative to its root, slash-separated (filepath.FromSlash them).
const (
	// KubesprayDir holds the quick-start scripts, which run from there.
	KubesprayDir = "contrib/kubespray"
	// ConfigDir is where the quick-start scripts read config.yaml and
	// layout.yaml.
	ConfigDir = KubesprayDir + "/config"
	// ConfigFile is the quick-start's config.yaml.
	ConfigFile = ConfigDir + "/" + ConfigName
	// LayoutFile is the quick-start's layout.yaml.
	LayoutFile = ConfigDir + "/" + LayoutName
	// DockerCacheFile is the playbook that writes the nodes' daemon.json
	// for pai's docker cache.
	DockerCacheFile = KubesprayDir + "/docker-cache-config-distribute.yml"
	// ServiceBootFile starts the dev-box container of
	// quick-start-service.sh.
	ServiceBootFile = KubesprayDir + "/script/service-boot.sh"
	// EnvironmentFile prepares the dev box: it clones kubespray and
	// installs ansible and the other Python packages with pip.
	EnvironmentFile = KubesprayDir + "/script/environment.sh"
	// DevicePluginFile is the device plugin service's start script, which
	// fetches the plugins' manifests.
	DevicePluginFile = "src/device-plugin/deploy/start.sh.template"
)

// The quick-start scripts, in KubesprayDir, in the order they run.
const (
	// KubesprayScript sets up the dev box, checks the nodes and installs
	// Kubernetes with kubespray. Its only option is -v (ansible shows ok
	// and skipped hosts and task times); it reads config/layout.yaml and
	// config/config.yaml under its directory.
	KubesprayScript = "quick-start-kubespray.sh"
	// ServiceScript starts OpenPAI's services from the dev-box container.
	// It takes no options and reads the same two files.
	ServiceScript = "quick-start-service.sh"
)

// RequirementFiles are pai's requirement checks (requirement.sh, run by
// quick-start-kubespray.sh) that look internet hosts up with nslookup:
// docker.io and gcr.io (the role defaults openpai_registry,
// gcr_image_repo, dev_box_registry) and quay.io. Offline every lookup
// fails and the quick-start stops at its "continue?" prompt.
var RequirementFiles = []string{
	KubesprayDir + "/roles/requirement/devbox/tasks/ubuntu.yml",
	KubesprayDir + "/roles/requirement/infra/tasks/ubuntu.yml",
	KubesprayDir + "/roles/requirement/worker/tasks/ubuntu.yml",
}

// The cluster configuration directory: quick-start-service.sh copies
// config.yaml and layout.yaml into ~/pai-deploy/cluster-cfg and
// generates services-configuration.yaml there, and paictl pushes the
// three from it.
const (
	// DeployDir, in the home directory, is where the quick-start leaves
	// the cluster's kubeconfig and configuration.
	DeployDir = "pai-deploy"
	// ClusterCfgDir, in DeployDir, is the cluster configuration.
	ClusterCfgDir = "cluster-cfg"
	// KubeconfigFile, in DeployDir, is the cluster admin's kubeconfig.
	KubeconfigFile = "kube/config"

	// ConfigName, LayoutName and ServicesName are the files of the
	// cluster configuration (the first two also in ConfigDir).
	ConfigName   = "config.yaml"
	LayoutName   = "layout.yaml"
	ServicesName = "services-configuration.yaml"
)

// OrigSuffix is appended to the name of a pai file paimirror edits for
// the copy of its original, kept once (the first original survives every
// rerun).
const OrigSuffix = ".paimirror-orig"

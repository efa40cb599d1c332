package quickstart

import "strings"

// The prompts of pai v1.8.0's quick-start path that read the script's
// stdin, and their answers. (paictl's cluster-id question runs inside the
// dev-box container, fed from a file by start-service-in-dev-box.sh, and
// kubespray's reset confirmation is not on the install path.)
const (
	// AzurePrompt is the question contrib/kubespray/script/k8s_generator.py
	// asks with Python's input() (no newline after it) unless config.yaml
	// sets openpai_kube_network_plugin: weave. It accepts exactly "Y" or
	// "N", three tries. The answer is "N", as in the seed guide: "Y" changes
	// nothing in what the script generates, and stops it when the network
	// plugin is calico (the default).
	AzurePrompt = "Are your cluster is in Azure cloud or not? (Y/N) (case sensitive)"

	// RequirementPrompt is the last line quick-start-kubespray.sh prints
	// before `read user_input` when requirement.sh fails. ENTER stops the
	// script with requirement.sh's exit status; "continue" makes it go on.
	RequirementPrompt = `If you are very sure about the configuration, and still want to continue, you can type in "continue" to force the script to proceed.`
)

// maxAnswers bounds how often one prompt is answered in a run; a prompt
// that keeps coming back is left to the idle timeout.
const maxAnswers = 3

// prompt is a question a script asks on stdin that RunScript answers.
type prompt struct {
	name string
	// marker identifies the prompt in a line of output.
	marker string
	// partial: the prompt is an unfinished line (input()), else the whole
	// line before a `read`.
	partial bool
	answer  func(ScriptOptions) string
}

var prompts = []prompt{
	{
		name:    "azure",
		marker:  "Are your cluster is in Azure cloud or not?",
		partial: true,
		answer:  func(ScriptOptions) string { return "N\n" },
	},
	{
		name:    "requirement",
		marker:  `you can type in "continue" to force the script to proceed`,
		partial: false,
		answer: func(o ScriptOptions) string {
			if o.ContinueOnRequirementFailure {
				return "continue\n"
			}
			return "\n"
		},
	},
}

// findPrompt returns the prompt text shows, if any.
func findPrompt(text string, partial bool) *prompt {
	for i := range prompts {
		p := &prompts[i]
		if p.partial == partial && strings.Contains(text, p.marker) {
			return p
		}
	}
	return nil
}

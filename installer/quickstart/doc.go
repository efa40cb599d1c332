// Package quickstart runs OpenPAI v1.8.0's two quick-start scripts on the
// dev box the way the seed guide does, and keeps the state that lets an
// install be stopped and resumed.
//
// # Steps and state
//
// An install is a Plan of named Steps run in order by Run. Each step's
// outcome is recorded in a State, a directory chosen by the caller
// (paimirror's default is ~/.paimirror/install/<cluster>) that holds
// state.json and the steps' logs (State.LogPath). state.json is
//
//	{
//	  "version": 1,
//	  "steps": {
//	    "patch":     {"status": "done",   "time": "2025-01-02T03:04:05Z", "fingerprint": "sha256:…"},
//	    "kubespray": {"status": "failed", "time": "2025-01-02T03:40:00Z", "error": "quick-start-kubespray.sh: exit status 2 (full output in …)"}
//	  }
//	}
//
// written atomically (temporary file, fsync, rename) with mode 0600. It
// records no inputs, only a fingerprint of them (Fingerprint), and never a
// password. Run with neither Plan.Only nor Plan.From starts at the first
// step that is not done with the same fingerprint, so a rerun resumes at
// the step that failed; Only runs just the named steps, From a step and
// every one after it.
//
// # Scripts
//
// RunScript runs `bash quick-start-kubespray.sh` or `bash
// quick-start-service.sh` in the pai tree's contrib/kubespray with pipes
// for stdin and output, in a session of its own. The scripts ask two
// questions on stdin on the install path; RunScript answers them by
// watching the output:
//
//   - k8s_generator.py, through configuration-kubespray.sh, asks AzurePrompt
//     with Python's input(), so with no newline after it: answered "N".
//     (Not asked when config.yaml sets openpai_kube_network_plugin: weave.)
//   - quick-start-kubespray.sh, when requirement.sh (ansible's
//     environment-check.yml) fails, prints two lines ending in
//     RequirementPrompt and reads a line: answered ENTER, which stops the
//     script, or "continue" with ScriptOptions.ContinueOnRequirementFailure.
//
// Any other wait for input is found from /proc: no output for
// ScriptOptions.IdleTimeout while a process of the script is blocked in a
// read of its stdin. The script is then stopped with ErrUnansweredPrompt
// and the prompt's text. (Without /proc, an unfinished line that ends like a
// question stands in for the read.) sudo and ssh, which ask on the terminal
// and not on stdin, find no terminal and fail at once rather than hang.
//
// The full output goes to ScriptOptions.LogPath, appended, between lines of
// paimirror's own that start with "=== paimirror:". Only the last lines are
// kept in memory. Ansible's "PLAY [name] ***" and "TASK [role : name] ***"
// banners and the scripts' "Doing something..." lines become Status values
// for a live one-line display. Secrets (ScriptOptions.Secrets, and the values
// of secret-looking variables in ScriptOptions.Env) are masked in the log,
// in errors and in progress.
//
// # Concurrency
//
// A State is safe for concurrent use, and locks its directory against other
// processes (ErrLocked) until Close. Run runs one step at a time and calls
// its progress function from its own goroutine; RunScript calls
// ScriptOptions.Progress from its own goroutine, one call at a time.
// Several RunScript calls may run at once.
package quickstart

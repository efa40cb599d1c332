// Package quickstart runs OpenPAI v1.8.0's two quick-start scripts on the
// dev box the way the seed guide does, and only that: the install's steps,
// their state and their progress are package steps' (the installer runs
// the "kubespray" and "services" steps with RunScript and turns its Status
// values into steps.Event status lines). Nothing here imports package
// steps (checked by manifests/imports_test.go).
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
// RunScript calls ScriptOptions.Progress from its own goroutine, one call
// at a time. Several RunScript calls may run at once.
package quickstart

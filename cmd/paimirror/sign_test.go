package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/sign"
)

// TestSignScripts runs the signing scripts in testdata/sign, with the
// same setup as TestScripts, and:
//
//	tamper BUNDLE   swaps a file's blob and rewrites the lock and
//	                index.json to match (bundletest.Tamper)
//	corrupt BUNDLE  as in TestScripts
func TestSignScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/sign",
		RequireExplicitExec: true,
		Setup:               setupScript,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"corrupt": cmdCorrupt,
			"tamper":  cmdTamper,
		},
	})
}

// TestCosignScripts runs the scripts in testdata/cosign, which also run
// the real cosign (bundletest.Cosign; .ci/cosign.sh builds it) as
//
//	cosign ARGS...  in the script's directory, with its COSIGN_PASSWORD,
//	                cut off from every network (bundletest.CosignCmd)
func TestCosignScripts(t *testing.T) {
	cosign := bundletest.Cosign(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/cosign",
		RequireExplicitExec: true,
		Setup:               setupScript,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"cosign": func(ts *testscript.TestScript, neg bool, args []string) {
				var env []string
				if pw := ts.Getenv("COSIGN_PASSWORD"); pw != "" {
					env = append(env, "COSIGN_PASSWORD="+pw)
				}
				home := ts.MkAbs(".cosign-home")
				cmd, err := bundletest.CosignCmd(cosign, ts.MkAbs("."), home, env, args...)
				ts.Check(err)
				out, err := cmd.CombinedOutput()
				ts.Logf("cosign %s:\n%s", strings.Join(args, " "), out)
				if (err != nil) != neg {
					ts.Fatalf("cosign %s: %v (want failure: %v)", strings.Join(args, " "), err, neg)
				}
			},
		},
	})
}

// tamper BUNDLE
func cmdTamper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tamper BUNDLE")
	}
	_, err := bundletest.Tamper(ts.MkAbs(args[0]))
	ts.Check(err)
}

// TestServeKey: serve --key serves a bundle signed by the key's pair, and
// refuses one it does not verify against, before listening.
func TestServeKey(t *testing.T) {
	path, _ := buildSmall(t, bundletest.Options{})
	dir := t.TempDir()
	key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := sign.MarshalPublicKey(&key.PublicKey)
	pubPath := filepath.Join(dir, "lab.pub")
	os.WriteFile(pubPath, pub, 0o644)

	cmd := paimirror(t, "serve", path, "--addr", freeAddr(t), "--key", pubPath)
	out, err := cmd.CombinedOutput()
	if code := exitCode(err); code != exitDamaged || !strings.Contains(string(out), "refusing to serve") || !strings.Contains(string(out), "bundle is not signed") {
		t.Fatalf("serve --key of an unsigned bundle: exit %d\n%s", code, out)
	}

	if _, err := sign.Bundle(path, key); err != nil {
		t.Fatal(err)
	}
	// It starts (startServe fails the test otherwise).
	startServe(t, path, "--addr", freeAddr(t), "--key", pubPath)
}

package main

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/sign"
)

type signOptions struct {
	*globalOptions
	key       string
	signature string
	jobs      int
}

func newSignCmd(g *globalOptions) *cobra.Command {
	o := &signOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "sign BUNDLE --key KEY",
		Short: "Sign a bundle's lock, as cosign sign-blob does",
		Long: `Sign verifies the bundle (every blob, as 'paimirror verify' does), then signs
its lock, paimirror.json, which pins every digest and sha256, with a cosign
private key (ECDSA P-256; 'paimirror keygen' or 'cosign generate-key-pair'
makes one), and stores the signature inside the bundle as paimirror.json.sig,
replacing any it had. The password is $` + sign.PasswordEnv + `, else asked on the terminal.

The signature is cosign's own format: 'cosign verify-blob --key cosign.pub
--signature paimirror.json.sig --insecure-ignore-tlog paimirror.json' checks
it once both are extracted with tar. Nothing is sent anywhere: no
transparency log, no certificate authority.

With --signature FILE, the signature was made elsewhere ('cosign sign-blob
--key ... paimirror.json', perhaps with a key in a KMS) and --key names the
public key it must verify against before it is stored.

The bundle is written in place, a few blocks at its end: a sign killed at any
point leaves a bundle that opens, signed or not (run sign again).`,
		Example: `  paimirror sign openpai-v1.8.0.tar --key lab.key
  tar -xf openpai-v1.8.0.tar paimirror.json
  cosign sign-blob --key gcpkms://... --tlog-upload=false --output-signature lock.sig paimirror.json
  paimirror sign openpai-v1.8.0.tar --key lab.pub --signature lock.sig`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runSign(cmd.Context(), o, args[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.key, "key", "", "the private key to sign with (cosign.key); with --signature, the public key (cosign.pub)")
	f.StringVar(&o.signature, "signature", "", "store this signature of the lock, made by cosign sign-blob, instead of signing")
	f.IntVarP(&o.jobs, "jobs", "j", 0, "blobs hashed at once (default: one per CPU)")
	cmd.MarkFlagRequired("key")
	return cmd
}

func runSign(ctx context.Context, o *signOptions, path string) error {
	// Keys and password first: a mistake there costs no hashing.
	var (
		key *ecdsa.PrivateKey
		pub *ecdsa.PublicKey
		sig []byte
		err error
	)
	if o.signature != "" {
		if sig, err = os.ReadFile(o.signature); err != nil {
			return usageError{fmt.Errorf("--signature: %w", err)}
		}
		if pub, err = loadPublicKey("--key", o.key); err != nil {
			return err
		}
	} else {
		if key, err = loadPrivateKey(o.stderr, "--key", o.key); err != nil {
			return err
		}
		pub = &key.PublicKey
	}
	// A signature vouches for the blobs through the lock: check them (a
	// delta's own; its base's are checked against the same lock wherever
	// the two are served or verified together).
	b, err := bundle.OpenWith(bundle.OpenOptions{NoBase: true}, path)
	if err != nil {
		return err
	}
	rep, err := verifyWithProgress(ctx, o.globalOptions, b, o.jobs, "verifying before signing")
	b.Close()
	if err != nil {
		return err
	}
	if !rep.OK() {
		printProblems(o.globalOptions, rep)
		return fmt.Errorf("%w: %d problems in %s; not signed: rebuild it", errDamaged, len(rep.Problems), path)
	}
	if key != nil {
		_, err = sign.Bundle(path, key)
	} else {
		err = sign.Attach(path, pub, string(sig))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "signed %s's lock with key %s; in the lab: paimirror verify %s --key PUBLIC-KEY\n", path, sign.Fingerprint(pub), path)
	return nil
}

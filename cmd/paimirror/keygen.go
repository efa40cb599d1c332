package main

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/paimirror/paimirror/bundle/sign"
	"github.com/paimirror/paimirror/manifests/atomicfile"
)

type keygenOptions struct {
	*globalOptions
	prefix string
	force  bool
}

func newKeygenCmd(g *globalOptions) *cobra.Command {
	o := &keygenOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "keygen [-o PREFIX]",
		Short: "Make a key pair to sign bundles with, as cosign does",
		Long: `Keygen makes an ECDSA P-256 key pair in cosign's formats, as
'cosign generate-key-pair' does: PREFIX.key, the private key encrypted with a
password (scrypt and NaCl secretbox; mode 0600), and PREFIX.pub, the public
key. cosign reads both, and paimirror reads keys cosign made.

The password is $` + sign.PasswordEnv + ` when set (cosign's variable), else asked twice
on the terminal; never a flag. An empty password is refused.

Keep PREFIX.key on the box that builds; carry PREFIX.pub into the lab apart
from the bundle (see 'paimirror sign' and 'paimirror verify --key').`,
		Example: `  paimirror keygen -o lab
  COSIGN_PASSWORD=... paimirror keygen -o lab`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runKeygen(o) },
	}
	cmd.Flags().StringVarP(&o.prefix, "output-key-prefix", "o", "cosign", "write PREFIX.key and PREFIX.pub")
	cmd.Flags().BoolVar(&o.force, "force", false, "replace existing key files")
	return cmd
}

func runKeygen(o *keygenOptions) error {
	keyPath, pubPath := o.prefix+".key", o.prefix+".pub"
	if !o.force {
		for _, p := range []string{keyPath, pubPath} {
			if _, err := os.Lstat(p); err == nil {
				return usageError{fmt.Errorf("%s exists; keep it, choose another -o PREFIX, or replace it with --force", p)}
			}
		}
	}
	pw, err := keyPassword(o.stderr, "password for "+keyPath, true)
	if err != nil {
		return err
	}
	if len(pw) == 0 {
		return usageError{fmt.Errorf("an empty password would leave %s readable by whoever copies it; set $%s or type a password", keyPath, sign.PasswordEnv)}
	}
	key, err := sign.GenerateKey()
	if err != nil {
		return err
	}
	enc, err := sign.EncryptKey(key, pw)
	if err != nil {
		return err
	}
	pub, err := sign.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(keyPath, enc, 0o600); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(pubPath, pub, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "wrote %s (private, encrypted) and %s (public): key %s\n", keyPath, pubPath, sign.Fingerprint(&key.PublicKey))
	return nil
}

// keyPassword returns a private key's password: $COSIGN_PASSWORD when it
// is set (even empty, as cosign reads it), else typed on the terminal
// (standard input) without echo, twice with confirm; the prompts go to
// stderr. Never from a flag.
func keyPassword(stderr io.Writer, what string, confirm bool) ([]byte, error) {
	if pw, ok := os.LookupEnv(sign.PasswordEnv); ok {
		return []byte(pw), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, usageError{fmt.Errorf("the %s is needed: set $%s, or run on a terminal to be asked", what, sign.PasswordEnv)}
	}
	ask := func(prompt string) ([]byte, error) {
		fmt.Fprintf(stderr, "%s: ", prompt)
		pw, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, fmt.Errorf("reading the %s: %w", what, err)
		}
		return pw, nil
	}
	pw, err := ask("Enter " + what)
	if err != nil || !confirm {
		return pw, err
	}
	again, err := ask("Enter it again")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pw, again) {
		return nil, usageError{errors.New("the two passwords differ")}
	}
	return pw, nil
}

// loadPrivateKey reads and opens a cosign private key file (flag names
// the flag it came from, for messages).
func loadPrivateKey(stderr io.Writer, flag, path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", flag, err)}
	}
	_, fromEnv := os.LookupEnv(sign.PasswordEnv)
	pw, err := keyPassword(stderr, "password for "+path, false)
	if err != nil {
		return nil, err
	}
	key, err := sign.DecryptKey(data, pw)
	if errors.Is(err, sign.ErrPassword) && fromEnv {
		return nil, fmt.Errorf("%s %s: $%s is not its password", flag, path, sign.PasswordEnv)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return key, nil
}

// loadPublicKey reads a public key file (cosign.pub).
func loadPublicKey(flag, path string) (*ecdsa.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", flag, err)}
	}
	pub, err := sign.ParsePublicKey(data)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s %s: %w", flag, path, err)}
	}
	return pub, nil
}

package bundle_test

import (
	"os"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
)

func TestMain(m *testing.M) { os.Exit(bundletest.RunTests(m)) }

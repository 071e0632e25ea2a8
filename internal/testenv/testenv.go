// Package testenv lets a test skip when a tool it needs (PoCL, Prometheus,
// Chromium) is absent, except where the run promised the tool: `make test`
// installs them and says so in HASHFORGE_TEST_REQUIRE, and there their
// absence fails the test instead of hiding it as a skip.
package testenv

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// RequireVar names the tools a run promises, comma-separated: "opencl",
// "prometheus", "chromium", and "root" for the fault tests that mount a
// tmpfs.
const RequireVar = "HASHFORGE_TEST_REQUIRE"

// Required reports whether the run promised tool.
func Required(tool string) bool {
	return slices.Contains(strings.Split(os.Getenv(RequireVar), ","), tool)
}

// Missing ends the test for want of tool: a failure where the run promised
// it, a skip elsewhere. why says what was looked for.
func Missing(t testing.TB, tool, why string) {
	t.Helper()
	if Required(tool) {
		t.Fatalf("%s is missing but %s promises it: %s", tool, RequireVar, why)
	}
	t.Skip(why)
}

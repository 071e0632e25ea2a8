// Package e2e holds the end-to-end tests of the miner command. They build
// the real binary once (cmd/miner) and run it as users do: subcommands,
// mining nodes, several nodes joined over P2P, hostile raw peers, crashes,
// a devnet, the wallet against a node, a real Prometheus and Grafana's
// queries, the web page in headless Chromium. They read only what a user
// sees: exit codes, output, files, HTTP and the P2P protocol.
//
// The package has no code of its own; its tests are in _test.go files, and
// testdata holds what they replay (a GPU node's recorded /metrics).
//
// Test flags: -p2p.syncblocks sets the chain length TestSyncFromEmpty syncs
// (2000 is the acceptance size); -crash.seed replays the kill schedule of
// TestCrashSafety or TestCrashSafetyDuringSync. For example:
//
//	go test -count=1 -run TestSyncFromEmpty ./e2e -args -p2p.syncblocks=2000
//
// HASHFORGE_ARTIFACTS names a folder for the web page test's screenshots,
// HASHFORGE_SCREENSHOT a file for the README's screenshot; a relative path
// is relative to this folder, where go test runs the tests.
package e2e

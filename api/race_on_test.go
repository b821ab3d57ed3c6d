//go:build race

package api_test

// raceDetector: built with -race, where sync.Pool drops a share of what it
// is given on purpose, so allocation counts vary from run to run.
const raceDetector = true

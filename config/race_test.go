//go:build race

package config

// raceEnabled skips the tests whose input is too large to decode in
// reasonable time under the race detector's slowdown.
const raceEnabled = true

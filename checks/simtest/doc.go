// Package simtest holds the integration tests of the check modules: the
// real m365 and platform clients against the embedded tenant simulator.
// It has no exported API; it is a separate package so that the unit tests
// of package checks never depend on the simulator building.
package simtest

// Package testsim starts the tenant simulator for the tests of other
// packages. (The simulator's own tests cannot use it: it imports sim.)
package testsim

import (
	"testing"

	"itdr-onboard/sim"
)

// Start loads the scenario name (a built-in name or a scenario file), lets
// edit change it when edit is not nil, starts the simulator and closes it
// when the test ends. Any error fails t.
func Start(t testing.TB, name string, edit func(*sim.Scenario)) *sim.Server {
	t.Helper()
	sc, err := sim.LoadScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(sc)
	}
	srv, err := sim.Start(sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

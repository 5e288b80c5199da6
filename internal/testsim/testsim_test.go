package testsim

import (
	"testing"

	"itdr-onboard/sim"
)

func TestStartAppliesEditAndServes(t *testing.T) {
	edited := false
	srv := Start(t, "typical", func(sc *sim.Scenario) {
		sc.Exchange.Dehydrated = true
		edited = true
	})
	if !edited || !srv.State().Snapshot().Dehydrated {
		t.Fatalf("the edit did not reach the simulator (edit ran: %v)", edited)
	}
	resp, err := srv.HTTPClient().Get(srv.URL() + "/devicelogin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /devicelogin: %d", resp.StatusCode)
	}
}

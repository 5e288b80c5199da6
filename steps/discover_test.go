package steps

import (
	"errors"
	"strings"
	"testing"

	"itdr-onboard/checks"
	"itdr-onboard/partner"
)

func TestDiscoveryStep(t *testing.T) {
	t.Parallel()
	s := NewSession(Options{})
	d := NewDiscoveryStep()
	effs := d.Enter(s)
	if len(effs) != 1 || d.Status() != StatusRunning {
		t.Fatalf("enter: %v %s", effs, d.Status())
	}
	if _, ok := effs[0].(DiscoverCustomers); !ok {
		t.Fatalf("effect %T", effs[0])
	}
	d.Handle(s, CustomersDiscovered{Err: errors.New("partner center: HTTP 401 (code 900421)")})
	snap := d.Snapshot(s)
	if d.Status() != StatusFailed || snap.Fail == nil || !strings.Contains(snap.Fail.Remedy, "partner sign-in") || len(snap.Next) != 1 {
		t.Fatalf("failure: %+v", snap)
	}
	d.Enter(s)
	plan := partner.Plan{Rows: []partner.Row{{TenantID: "a", Name: "A", Lane: partner.LaneReady}, {TenantID: "b", Name: "B", Lane: partner.LaneNoGDAP, Remedy: "invite"}},
		Counts: map[partner.Lane]int{partner.LaneReady: 1, partner.LaneNoGDAP: 1}}
	d.Handle(s, CustomersDiscovered{Plan: plan})
	snap = d.Snapshot(s)
	if d.Status() != StatusDone || len(snap.Items) != 2 || snap.Items[1].Outcome != checks.Fail || snap.Items[1].Remedy != "invite" || snap.Line != "2 customers: 1 ready, 1 no-gdap" {
		t.Fatalf("done: %+v", snap)
	}
	if dd, ok := snap.Detail.(*DiscoveryDetail); !ok || len(dd.Plan.Rows) != 2 {
		t.Fatalf("detail %T", snap.Detail)
	}
	// The executor without partner sources answers with an error, not a panic.
	if ev := (&Executor{}).Do(t.Context(), DiscoverCustomers{}, nil); ev.(CustomersDiscovered).Err == nil {
		t.Fatal("no error without partner sources")
	}
}

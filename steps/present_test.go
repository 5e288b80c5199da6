package steps

import (
	"testing"

	"itdr-onboard/checks"
)

// The summary lists the changes as the technician accepted them: the role
// fixes in the plan's order, then the service principal, the permissions in
// the order the mapping question listed them and the mapping, whatever
// order the side-by-side writes finished in; the record's order is kept
// apart.
func TestChangesInPlanOrder(t *testing.T) {
	roleA := checks.Change{ID: "exo.role-group/Audit Logs", Order: checks.OrderRoleGroup}
	roleB := checks.Change{ID: "exo.role-group/Transport Rules", Order: checks.OrderRoleGroup}
	spRole := checks.Change{ID: "graph.platform-sp-roles/role/1", Order: checks.OrderSPRole}
	createSP := checks.Change{ID: changeCreateSP, Order: checks.OrderCreateSP}
	g1 := checks.Change{ID: changeGrantPrefix + "Microsoft Graph: AuditLog.Read.All", Order: 40}
	g2 := checks.Change{ID: changeGrantPrefix + "Microsoft Graph: Directory.Read.All", Order: 40}
	g3 := checks.Change{ID: changeGrantPrefix + "Microsoft Graph: User.Read (delegated)", Order: 40}
	mp := checks.Change{ID: changeMap, Order: 50}

	s := NewSession(Options{})
	s.Plan = []checks.Change{roleA, roleB, spRole}
	s.Consent.Granted = []string{"Microsoft Graph: AuditLog.Read.All", "Microsoft Graph: User.Read (delegated)"}
	s.Consent.AlreadyGranted = []string{"Microsoft Graph: Directory.Read.All"}
	for _, c := range []checks.Change{mp, g3, roleB, g2, createSP, spRole, g1, roleA} {
		s.Applied = append(s.Applied, checks.Applied{Change: c})
	}
	var got []string
	for _, a := range s.Changes() {
		got = append(got, a.Change.ID)
	}
	want := []string{roleA.ID, roleB.ID, spRole.ID, createSP.ID, g1.ID, g3.ID, g2.ID, mp.ID}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v,\nwant %v", got, want)
		}
	}
	if s.Applied[0].Change.ID != mp.ID {
		t.Fatalf("ordering the summary reordered the session's own list: %v", s.Applied)
	}
}

// The evidence line names the proven rungs in words a technician reads at
// a glance.
func TestProvenLine(t *testing.T) {
	ladder := func(proven ...int) []LadderRung {
		l := make([]LadderRung, 5)
		for i := range l {
			l[i] = LadderRung{N: i + 1, State: checks.RungWaiting}
		}
		for _, n := range proven {
			l[n-1].State = checks.RungProven
		}
		return l
	}
	for _, c := range []struct {
		proven []int
		want   string
	}{
		{nil, "no rung proven yet"},
		{[]int{1}, "rung 1 of 5 proven"},
		{[]int{1, 2}, "rungs 1–2 of 5 proven"},
		{[]int{1, 2, 3, 4}, "rungs 1–4 of 5 proven"},
		{[]int{1, 2, 4}, "rungs 1, 2, 4 of 5 proven"},
		{[]int{1, 5}, "rungs 1, 5 of 5 proven"},
		{[]int{1, 2, 3, 4, 5}, "all 5 rungs proven"},
	} {
		if got := ProvenLine(ladder(c.proven...)); got != c.want {
			t.Errorf("%v: %q, want %q", c.proven, got, c.want)
		}
	}
}

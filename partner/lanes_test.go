package partner

import (
	"strings"
	"testing"
	"time"

	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

func rel(id, tid, name, status string, activated time.Time, roles ...string) m365.DelegatedAdminRelationship {
	r := m365.DelegatedAdminRelationship{ID: id, DisplayName: name, Status: status, Customer: m365.GDAPCustomer{TenantID: tid, DisplayName: "Cust " + tid}}
	if !activated.IsZero() {
		r.ActivatedDateTime = &activated
	}
	for _, x := range roles {
		r.AccessDetails.UnifiedRoles = append(r.AccessDetails.UnifiedRoles, m365.RoleRef{RoleDefinitionID: x})
	}
	return r
}

func assign(group, status string, roles ...string) m365.DelegatedAdminAccessAssignment {
	a := m365.DelegatedAdminAccessAssignment{Status: status, AccessContainer: m365.AccessContainer{AccessContainerID: group, AccessContainerType: "securityGroup"}}
	for _, x := range roles {
		a.AccessDetails.UnifiedRoles = append(a.AccessDetails.UnifiedRoles, m365.RoleRef{RoleDefinitionID: x})
	}
	return a
}

func TestComputeLanesRules(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC) // a fixed instant, never compared with the real clock
	old := now.Add(-90 * 24 * time.Hour)
	past := now.Add(-time.Hour)
	in := Inputs{
		Now:  now,
		User: "tech@msp",
		Relationships: []m365.DelegatedAdminRelationship{
			rel("r-ga", "t-ga", "GA rel", "active", old, RoleGlobalAdmin),
			rel("r-mlt", "t-mlt", "MLT_default", "active", old, RoleGlobalAdmin),
			rel("r-ended", "t-ended", "ended", "active", old, RoleGlobalAdmin),
			rel("r-pend", "t-pend", "pending", "active", old, RoleCloudAppAdmin, RolePrivilegedRoleAdmin, RoleExchangeAdmin),
			rel("r-none", "t-none", "nothing useful", "active", old, "f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
			rel("r-part", "t-part", "partial", "active", old, RoleCloudAppAdmin, RolePrivilegedRoleAdmin, RoleExchangeAdmin),
		},
		Assignments: map[string][]m365.DelegatedAdminAccessAssignment{
			"r-ga":    {assign("g1", "active", RoleGlobalAdmin)},
			"r-ended": {assign("g1", "active", RoleGlobalAdmin)},
			"r-pend":  {assign("g1", "pending", RoleCloudAppAdmin, RolePrivilegedRoleAdmin, RoleExchangeAdmin)},
			"r-none":  {assign("g1", "active", "f2ef992c-3afb-46b9-b7cf-a126ee74c451")},
			"r-part":  {assign("g1", "active", RoleCloudAppAdmin), assign("g2", "active", RolePrivilegedRoleAdmin, RoleExchangeAdmin)},
		},
		MyGroups: []m365.DirectoryObject{{ID: "G1"}},
		Orgs:     []platform.Organization{{ID: "o1", Name: "Cust t-ga"}},
	}
	in.Relationships[2].EndDateTime = &past
	rows := ComputeLanes(in)
	got := map[string]Row{}
	for _, r := range rows {
		got[r.TenantID] = r
	}
	if _, listed := got["t-mlt"]; listed {
		t.Error("a Microsoft-led (MLT_) relationship made a row")
	}
	if r := got["t-ga"]; r.Lane != LaneReady || r.OrgID != "o1" {
		t.Errorf("Global Administrator satisfies every role: %+v", r)
	}
	if r := got["t-ended"]; r.Lane != LaneNoGDAP {
		t.Errorf("a relationship past its endDateTime is not active: %+v", r)
	}
	if r := got["t-pend"]; r.Lane != LaneSettling || r.ReadyAt == nil || !r.ReadyAt.Equal(now.Add(time.Minute)) {
		t.Errorf("pending assignment: %+v", r)
	}
	if r := got["t-none"]; r.Lane != LaneNoGDAP {
		t.Errorf("no needed role anywhere: %+v", r)
	}
	r := got["t-part"]
	if r.Lane != LanePartial || len(r.HandOff) != 2 || !strings.Contains(r.Remedy, "assign them") {
		t.Errorf("partial with the roles in the relationship (a partner-side fix): %+v", r)
	}
	if !r.Roles[0].Has || r.Roles[1].Has || !r.Roles[1].InRelationship {
		t.Errorf("role status %+v", r.Roles)
	}
}

// A relationship activated moments ago settles: its remedy says the wait in
// words ("15 minutes"), never Go's duration text ("15m0s").
func TestSettlingRemedySaysTheWaitInWords(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC) // a fixed instant, never compared with the real clock
	in := Inputs{
		Now: now, User: "tech@msp",
		Relationships: []m365.DelegatedAdminRelationship{
			rel("r-new", "t-new", "new", "active", now.Add(-time.Minute), RoleCloudAppAdmin, RolePrivilegedRoleAdmin, RoleExchangeAdmin),
		},
		Assignments: map[string][]m365.DelegatedAdminAccessAssignment{
			"r-new": {assign("g1", "active", RoleCloudAppAdmin, RolePrivilegedRoleAdmin, RoleExchangeAdmin)},
		},
		MyGroups: []m365.DirectoryObject{{ID: "G1"}},
	}
	rows := ComputeLanes(in)
	if len(rows) != 1 || rows[0].Lane != LaneSettling {
		t.Fatalf("rows %+v, want one settling row", rows)
	}
	if r := rows[0].Remedy; !strings.Contains(r, "activated less than 15 minutes ago") || strings.Contains(r, "15m0s") {
		t.Errorf("remedy %q", r)
	}
	for d, want := range map[time.Duration]string{time.Hour: "1 hour", 2 * time.Hour: "2 hours", 90 * time.Second: "90 seconds", time.Minute: "1 minute"} {
		if got := spokenDuration(d); got != want {
			t.Errorf("spokenDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

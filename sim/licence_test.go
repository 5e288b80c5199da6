package sim

import (
	"net/http"
	"testing"
	"time"
)

// Issue 16 §5: the simulator serves every documented licence state — each
// subscribedSku capabilityStatus with its units in the matching
// licenseUnitsDetail bucket, each servicePlanInfo provisioningStatus, and the
// SKU's commercial subscription (GET /directory/subscriptions) with its status
// and nextLifecycleDateTime relative to the simulator's start.
func TestGraphServesEveryLicenceState(t *testing.T) {
	t.Parallel()
	sc := tScenario()
	sc.Licences = nil
	bucket := map[string]string{"Enabled": "enabled", "Warning": "warning", "Suspended": "suspended", "LockedOut": "lockedOut", "Deleted": ""}
	for _, cap := range []string{"Enabled", "Warning", "Suspended", "LockedOut", "Deleted"} {
		var plans []ServicePlanSpec
		for _, ps := range simProvisioning[1:] {
			plans = append(plans, ServicePlanSpec{Name: "PLAN_" + cap + "_" + ps, ProvisioningStatus: ps})
		}
		sc.Licences = append(sc.Licences, SKUSpec{SkuPartNumber: "SKU_" + cap, CapabilityStatus: cap, Enabled: 7, ServicePlans: plans})
	}
	grace := Duration(12 * 24 * time.Hour)
	sc.Licences[1].NextLifecycleIn = &grace
	e := newEnv(t, sc)

	skus := e.graphCall(http.MethodGet, "/subscribedSkus", tAdmin, nil).values(t)
	subs := e.graphCall(http.MethodGet, "/directory/subscriptions", tAdmin, nil).values(t)
	if len(skus) != 5 || len(subs) != 5 {
		t.Fatalf("%d skus, %d subscriptions", len(skus), len(subs))
	}
	for i, k := range skus {
		cap := sc.Licences[i].CapabilityStatus
		if k["capabilityStatus"] != cap {
			t.Errorf("sku %d capabilityStatus %v, want %s", i, k["capabilityStatus"], cap)
		}
		for b, n := range k["prepaidUnits"].(map[string]any) {
			want := float64(0)
			if b == bucket[cap] {
				want = 7
			}
			if n != want {
				t.Errorf("%s prepaidUnits.%s = %v, want %v", cap, b, n, want)
			}
		}
		for j, p := range k["servicePlans"].([]any) {
			if got := p.(map[string]any)["provisioningStatus"]; got != simProvisioning[j+1] {
				t.Errorf("%s plan %d provisioningStatus %v, want %s", cap, j, got, simProvisioning[j+1])
			}
		}
		s := subs[i]
		if s["skuId"] != k["skuId"] || s["status"] != cap || s["skuPartNumber"] != k["skuPartNumber"] {
			t.Errorf("subscription %v does not match sku %v", s, k)
		}
	}
	created := e.st.created
	wantNext := map[string]any{
		"Enabled":   created.Add(365 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"Warning":   created.Add(12 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"Suspended": created.Add(90 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"LockedOut": created.Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"Deleted":   nil,
	}
	for _, s := range subs {
		if s["nextLifecycleDateTime"] != wantNext[s["status"].(string)] {
			t.Errorf("%v nextLifecycleDateTime %v, want %v", s["status"], s["nextLifecycleDateTime"], wantNext[s["status"].(string)])
		}
	}
	r := e.graphCall(http.MethodPost, "/directory/subscriptions", tAdmin, map[string]any{})
	if r.Status != http.StatusMethodNotAllowed {
		t.Errorf("POST /directory/subscriptions: %d", r.Status)
	}
}

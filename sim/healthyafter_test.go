package sim

import (
	"encoding/json"
	"net/http"
	"testing"
)

// A scenario file's "healthy_after": "0s" means healthy as soon as mapped
// (like "approve_delay": "0s"); leaving it out keeps the 5 s default.
func TestHealthyAfterZeroMeansAtOnce(t *testing.T) {
	b, err := BuiltinScenarioJSON("ready")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	obj2(m, "platform")["healthy_after"] = "0s"
	zero, _ := json.Marshal(m)
	delete(obj2(m, "platform"), "healthy_after")
	absent, _ := json.Marshal(m)

	for _, c := range []struct {
		name   string
		json   []byte
		want   string
		status string
	}{{"zero.json", zero, "0s", "healthy"}, {"absent.json", absent, "5s", "pending"}} {
		sc, err := ParseScenario(c.json, c.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := sc.Platform.HealthyAfter.D().String(); got != c.want {
			t.Errorf("%s: healthy_after %s, want %s", c.name, got, c.want)
		}
		// The clock does not move: only healthy_after 0 is healthy at once.
		e := newEnv(t, sc)
		r := e.pfCall(http.MethodPost, "/v1/integrations", map[string]string{"tenant_id": sc.Tenant.ID, "organization_id": "org_contoso", "type": "microsoft_365"})
		if r.Status != http.StatusCreated || r.Body["status"] != c.status {
			t.Errorf("%s: mapping answered %d status %v, want 201 %s: %s", c.name, r.Status, r.Body["status"], c.status, r.Raw)
		}
	}
}

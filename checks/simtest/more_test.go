package simtest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
	"itdr-onboard/sim"
)

// A consent-blocked SP creation surfaces the client's AADSTS650051 error
// unchanged, and nothing is written.
func TestSPCreation650051Unchanged(t *testing.T) {
	for _, scenario := range []string{"sp-soft-deleted", "bad-permissions"} {
		t.Run(scenario, func(t *testing.T) {
			t.Parallel()
			w := start(t, scenario)
			c, _ := w.reg.Get(checks.IDPlatformSPRoles)
			r := checks.RunSafe(context.Background(), c, 30*time.Second)
			if r.Outcome != checks.Fail || len(r.Changes) == 0 {
				t.Fatalf("result = %+v", r)
			}
			before := len(w.srv.State().Changes())
			_, err := checks.ApplySafe(context.Background(), c, r.Changes[0])
			if err == nil {
				t.Fatal("SP creation succeeded")
			}
			if code := m365.AADSTSCode(err); code != 650051 {
				t.Errorf("AADSTS code = %d (err %v)", code, err)
			}
			var ae *m365.APIError
			if !errors.As(err, &ae) || !strings.Contains(err.Error(), "AADSTS650051") || strings.HasPrefix(err.Error(), "looking up") {
				t.Errorf("error not the client's own: %v", err)
			}
			if n := len(w.srv.State().Changes()); n != before {
				t.Errorf("failed creation wrote %d changes", n-before)
			}
		})
	}
}

// startWith runs a variant of the typical scenario.
func startWith(t *testing.T, edit func(m map[string]any)) (*sim.Server, *sim.Scenario) {
	t.Helper()
	b, err := sim.BuiltinScenarioJSON("typical")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, _ = json.Marshal(m)
	sc, err := sim.ParseScenario(b, "variant")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sim.Start(sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, sc
}

func TestPlatformSubscriptionAgainstSim(t *testing.T) {
	account := func(m map[string]any) map[string]any {
		return m["platform"].(map[string]any)["account"].(map[string]any)
	}
	cases := []struct {
		name      string
		edit      func(m map[string]any)
		badSecret bool
		outcome   checks.Outcome
		summary   string
		remedy    string
	}{
		{"expired", func(m map[string]any) {
			account(m)["subscription"] = "expired"
			account(m)["expires_at"] = "2020-01-31T00:00:00Z"
		}, false, checks.Fail, "no usable ITDR subscription", "renew"},
		{"cancelled", func(m map[string]any) { account(m)["subscription"] = "cancelled" }, false, checks.Fail, "cancelled", "renew"},
		{"trial", func(m map[string]any) {
			account(m)["subscription"] = "trial"
			account(m)["expires_at"] = time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
		}, false, checks.Pass, "in trial until", ""},
		{"user role", func(m map[string]any) { account(m)["role"] = "user" }, false, checks.Fail, "needs an admin", "admin-level"},
		{"wrong secret", func(map[string]any) {}, true, checks.Fail, "platform API key rejected", "ITDR_API_SECRET"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := startWith(t, tc.edit)
			ep := srv.Endpoints()
			hc := srv.HTTPClient()
			defer hc.CloseIdleConnections()
			secret := ep.PlatformAPISecret
			if tc.badSecret {
				secret += "-wrong"
			}
			c := checks.NewPlatformSubscription(platform.New(hc, ep.Platform, ep.PlatformAPIKey, secret), time.Now)
			r := checks.RunSafe(context.Background(), c, 30*time.Second)
			if r.Outcome != tc.outcome || !strings.Contains(r.Summary, tc.summary) || !strings.Contains(r.Remedy, tc.remedy) {
				t.Fatalf("result = %s %q remedy %q err %v", r.Outcome, r.Summary, r.Remedy, r.Err)
			}
			if tc.badSecret && (r.Err == nil || strings.Contains(r.Err.Error(), secret)) {
				t.Errorf("err = %v", r.Err)
			}
		})
	}
}

// Under the flaky scenario (seeded 429/503 and latency) the checks reach
// the same verdicts as in typical (the clients retry), and the plan still
// applies exactly once.
func TestFlakyScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("retries wait for Retry-After")
	}
	w := start(t, "flaky")
	got := w.runAll(t)
	for id, e := range got {
		r := e.Result
		if r.Err != nil {
			// A check that still could not decide must not be green.
			if r.Outcome == checks.Pass {
				t.Errorf("%s: pass with error %v", id, r.Err)
			}
			t.Logf("%s undecided under faults: %v", id, r.Err)
		}
	}
	if r := got[checks.IDRoleGroup].Result; r.Err == nil && (r.Outcome != checks.Fail || len(r.Changes) != 2) {
		t.Errorf("role group: %s %q", r.Outcome, r.Summary)
	}
	for _, id := range []string{checks.IDRoleGroup, checks.IDPlatformSPRoles} {
		if got[id].Result.Err != nil {
			t.Skipf("%s undecided under faults; plan incomplete", id)
		}
	}
	applyTwice(t, w, got)
}

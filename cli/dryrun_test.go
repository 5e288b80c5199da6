package cli

// Issue 16 §1: a dry run changes nothing, ever — in the tenant, on the
// platform, or on disk — and shows the whole plan.

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"itdr-onboard/sim"
)

// writeRequests lists the requests to Graph and the platform that can
// change something (Exchange's InvokeCommand is always a POST: its writes
// are in the simulator's change log instead).
func writeRequests(srv *sim.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		if r.Group != sim.GroupGraph && r.Group != sim.GroupPlatform {
			continue
		}
		if r.Method == "GET" || r.Method == "HEAD" || strings.HasSuffix(strings.ToLower(r.Path), "/$batch") {
			continue
		}
		out = append(out, r.Group+" "+r.Method+" "+r.Path)
	}
	return out
}

func TestDryRunChangesNothingInAnyBuiltinScenario(t *testing.T) {
	names := sim.BuiltinScenarios()
	if len(names) < 10 {
		t.Fatalf("only %d built-in scenarios", len(names))
	}
	concurrently(t, 4, names, func(t *testing.T, name string) {
		var orgID string
		ts := startSim(t, name, func(sc *sim.Scenario) {
			if sc.SignIn.AutoApprove != nil && !*sc.SignIn.AutoApprove {
				// Nobody types the code here: approve it (what the dry run
				// does after sign-in is what this test is about).
				yes := true
				sc.SignIn.AutoApprove = &yes
			}
			if len(sc.Platform.Organizations) > 0 {
				orgID = sc.Platform.Organizations[0].ID
			}
		})
		args := []string{"--json", "--dry-run", "--yes", "--auth", "device"}
		if orgID != "" {
			args = append(args, "--org", orgID)
		}
		code, out, errs := ts.onboard(t, args...)
		if code != 0 && code != 1 && code != 3 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errs)
		}
		ts.assertUnchanged(t)
		if w := writeRequests(ts.srv); len(w) > 0 {
			t.Errorf("write requests in a dry run: %v", w)
		}
		if _, err := os.Stat(ts.stateDir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the dry run wrote to the state dir (%v)", err)
		}
		last := lastJSON(t, out)
		if code == 0 {
			if last["outcome"] != "dry-run" {
				t.Fatalf("exit 0 but outcome %v\n%s", last["outcome"], out)
			}
			if _, ok := last["plan"].([]any); !ok && name != "ready" {
				t.Errorf("no plan in %v", last)
			}
		}
		if name == "ready" || name == "typical" {
			if code != 0 {
				t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errs)
			}
			// The whole plan: consent's grant and the mapping, not only role fixes.
			plan, _ := last["plan"].([]any)
			var ids []string
			for _, c := range plan {
				ids = append(ids, c.(map[string]any)["id"].(string))
			}
			all := strings.Join(ids, " ")
			for _, want := range []string{"consent/grant/Microsoft Graph: User.Read (delegated)", "mapping/create"} {
				if !strings.Contains(all, want) {
					t.Errorf("plan lacks %s: %v", want, ids)
				}
			}
			if name == "typical" && !strings.Contains(all, "exo.role-group/Audit Logs") {
				t.Errorf("plan lacks the role fixes: %v", ids)
			}
		}
	})
}

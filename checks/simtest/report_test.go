package simtest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/internal/testutil"
)

// The report of a real run against the simulator matches the published
// schema and carries no secret.
func TestReportAgainstSimMatchesSchema(t *testing.T) {
	w := start(t, "typical")
	entries := checks.RunAll(context.Background(), w.reg.All(), 30*time.Second, 4)
	rep := checks.NewReport("Contoso Ltd", w.srv.TenantID(), upn, time.Now(), entries)
	if rep.Outcome != checks.Fail || len(rep.Checks) != len(w.reg.All()) {
		t.Fatalf("report outcome %s with %d rows", rep.Outcome, len(rep.Checks))
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}

	s := testutil.MustLoadSchema(t, "../../docs/check-report.schema.json")
	if err := testutil.ValidateJSON(t, s, b); err != nil {
		t.Fatalf("report does not match schema: %v\n%s", err, b)
	}

	ep := w.srv.Endpoints()
	for name, secret := range map[string]string{
		"platform API secret": ep.PlatformAPISecret,
		"graph token":         w.graphTok,
		"exchange token":      w.exoTok,
	} {
		if secret != "" && strings.Contains(string(b), secret) {
			t.Errorf("report contains the %s", name)
		}
	}
}

package plain

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/steps"
)

var updateBatchGolden = flag.Bool("update-batch", false, "rewrite testdata/batch-summary-*.golden")

// summarySnapshot is a finished batch with every kind of long line the
// summary prints: a pending group sharing one next action, a hand-off with
// a long action and link, a failure with a long message, receipts.
func summarySnapshot() steps.BatchSnapshot {
	ho := &steps.HandOff{Who: "customer", Reason: "The customer's Conditional Access blocks service-provider (GDAP) sign-ins.",
		CustomerAction: "The customer must exclude service provider users from that policy (Entra → Conditional Access → policy → Users → Exclude → Guest or external users → Service provider users), or onboard directly with their Global Administrator.",
		Link:           "https://login.microsoftonline.com/64f499eb-7b75-536e-ad49-ecbc3024cfd3/adminconsent?client_id=5b1a7c3e-0d5f-4e39-9d6b-6c0f3f6b9a11", LinkKind: "admin-consent"}
	next := "`itdr-onboard batch status --batch 20261206-230445-b76d` later reads their health again with one platform request (the first audit data can take up to 24 hours)"
	rc := func(id string) string {
		return "/home/tech/.local/state/itdr-onboard/tenants/" + id + "/receipt-20261206T230445.494898017Z.json"
	}
	ts := []steps.BatchTenant{
		{TenantID: "a", Name: "Alpine 010", Lane: "ready", State: steps.TenantHealthy, Changes: 12, Evidence: "5 Platform confirms", Org: "Alpine 010", ReceiptPath: rc("0d068404-76eb-54b6-b006-74724e989c74")},
		{TenantID: "b", Name: "Bellows 011", Lane: "ready", State: steps.TenantPending, Changes: 13, Evidence: "1 Configured", Org: "Bellows 011", Next: next, ReceiptPath: rc("1a7bd2a4-4561-5a16-a2b3-a415ad04ecad")},
		{TenantID: "c", Name: "Contoso Pharmaceuticals International 001", Lane: "ready", State: steps.TenantPending, Changes: 14, Evidence: "2 Audit pipeline on",
			Org: "Contoso Pharma Intl", OrgNote: "organization \"Contoso Pharma Intl\" is the closest name to \"Contoso Pharmaceuticals International 001\" (not exact)", Next: next},
		{TenantID: "d", Name: "Proseware 008", Lane: "ca-blocked", State: steps.TenantHandedOff, Message: ho.Reason, HandOff: ho, ReceiptPath: rc("64f499eb-7b75-536e-ad49-ecbc3024cfd3")},
		{TenantID: "e", Name: "Wingtip 009", Lane: "ready", State: steps.TenantFailed, Message: "the platform refused the mapping: organization org_009 belongs to another account (403 forbidden); nothing else was changed", Next: "check the organization in the platform, then `itdr-onboard batch resume --batch 20261206-230445-b76d`"},
		{TenantID: "f", Name: "Fabrikam 002", Lane: "settling", State: steps.TenantSkipped, Message: "settling: Microsoft is still propagating the relationship (ready at 22:58 UTC)", Next: "run `itdr-onboard batch resume --batch 20261206-230445-b76d` after 22:58 UTC (beyond --settle-wait 20m)"},
	}
	return steps.BatchSnapshot{ID: "20261206-230445-b76d", Tenants: ts, Counts: steps.CountStates(ts), Finished: true,
		ReceiptPath: "/home/tech/.local/state/itdr-onboard/batches/20261206-230445-b76d/receipt.json"}
}

// The summary printed after the watch screen wraps to the terminal's 80
// columns between words (a link or a path longer than a line stays whole,
// on a line of its own, for the terminal to fold), and a next action the whole pending group shares is said once.
func TestBatchSummaryWrapsAt80Columns(t *testing.T) {
	var out strings.Builder
	now := time.Date(2026, 12, 6, 23, 10, 0, 0, time.UTC) // a fixed fake clock, never compared with the real one
	(&BatchText{W: &out, Now: func() time.Time { return now }, Width: 80}).Summary(summarySnapshot(), 5)
	got := out.String()
	for _, l := range strings.Split(got, "\n") {
		if w := ansi.StringWidth(l); w > 80 && strings.Contains(l, " ") {
			t.Errorf("%d columns: %q", w, l)
		}
	}
	for _, whole := range []string{summarySnapshot().Tenants[3].HandOff.Link, summarySnapshot().ReceiptPath} {
		if !strings.Contains(got, whole) {
			t.Errorf("split: %s", whole)
		}
	}
	if n := strings.Count(got, "batch status --batch"); n != 1 {
		t.Errorf("the pending group's next action printed %d times, want once", n)
	}
	golden := filepath.Join("testdata", "batch-summary-80.golden")
	if *updateBatchGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./ui/plain -run TestBatchSummaryWrapsAt80Columns -update-batch writes it)", err)
	}
	if got != string(want) {
		t.Errorf("summary at 80 columns differs from %s:\n%s", golden, got)
	}
	// Without a width (--plain, a log) every line is whole.
	out.Reset()
	(&BatchText{W: &out, Now: func() time.Time { return now }}).Summary(summarySnapshot(), 5)
	if !strings.Contains(out.String(), "      for the customer: "+summarySnapshot().Tenants[3].HandOff.CustomerAction+"\n") {
		t.Errorf("--plain wrapped a line:\n%s", out.String())
	}
}

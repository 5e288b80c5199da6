package batch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"itdr-onboard/partner"
	"itdr-onboard/steps"
)

// The progress log: tenant changes appended after a snapshot are read back
// over it, the last line of a tenant wins, a line cut short by a kill is
// ignored, and a new snapshot takes the log's place.
func TestProgressLogReplaysOverSnapshot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	p := &Progress{ID: "b1", Updated: t0, Runs: 1, Tenants: map[string]*TenantProgress{
		"ta": {TenantID: "ta", State: steps.TenantQueued}, "tb": {TenantID: "tb", State: steps.TenantQueued}}}
	if err := SaveProgress(dir, p); err != nil {
		t.Fatal(err)
	}
	for i, tp := range []*TenantProgress{
		{TenantID: "ta", State: steps.TenantRunning, Attempts: 1},
		{TenantID: "ta", State: steps.TenantPending, Attempts: 1, IntegrationID: "int_1"},
		{TenantID: "tc", State: steps.TenantFailed, Message: "boom"},
	} {
		if err := AppendProgress(dir, "b1", t0.Add(time.Duration(i+1)*time.Minute), tp); err != nil {
			t.Fatal(err)
		}
	}
	logPath := filepath.Join(Dir(dir, "b1"), ProgressLog)
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"updated":"2026-03-01T11:00:00Z","tenant":{"tenant_id":"tb","sta`) // killed mid-write
	f.Close()

	got, err := LoadProgress(dir, "b1")
	if err != nil {
		t.Fatal(err)
	}
	if a := got.Tenants["ta"]; a.State != steps.TenantPending || a.IntegrationID != "int_1" {
		t.Errorf("ta: %+v, want its last logged state (pending, int_1)", a)
	}
	if got.Tenants["tb"].State != steps.TenantQueued || got.Tenants["tc"].State != steps.TenantFailed || got.Runs != 1 {
		t.Errorf("tb %+v, tc %+v, runs %d", got.Tenants["tb"], got.Tenants["tc"], got.Runs)
	}
	if !got.Updated.Equal(t0.Add(3 * time.Minute)) {
		t.Errorf("updated %v, want the last whole line's", got.Updated)
	}
	if err := SaveProgress(dir, got); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(logPath); !os.IsNotExist(err) {
		t.Fatalf("the log outlives the snapshot that covers it: %v", err)
	}
	again, err := LoadProgress(dir, "b1")
	if err != nil || again.Tenants["ta"].State != steps.TenantPending || len(again.Tenants) != 3 {
		t.Fatalf("after the snapshot: %+v %v", again, err)
	}
}

// A tenant's change appends to the progress log instead of rewriting
// progress.json (whose size grows with the batch): while the second tenant
// runs, progress.json is still the snapshot of the start, yet the progress
// read from disk has the first tenant done.
func TestBatchTenantChangeAppendsNotRewrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := testManifest(partner.LaneReady, partner.LaneReady, partner.LaneReady)
	m.Options.Parallel = 1
	if _, err := SaveManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	snapPath := filepath.Join(Dir(dir, m.ID), ProgressFile)
	var atStart []byte
	var during *Progress
	b := New(Config{StateDir: dir, Manifest: m, Runner: RunnerFunc(func(ctx context.Context, tn Tenant, sink func(steps.BatchEvent)) Result {
		switch tn.TenantID {
		case "ta":
			atStart, _ = os.ReadFile(snapPath)
		case "tb":
			now, _ := os.ReadFile(snapPath)
			if string(now) != string(atStart) {
				t.Errorf("progress.json was rewritten for one tenant's change")
			}
			during, _ = LoadProgress(dir, m.ID)
		}
		return Result{State: steps.TenantPending, IntegrationID: "int_" + tn.TenantID}
	})})
	snap, err := b.Run(context.Background())
	if err != nil || snap.Count(steps.TenantPending) != 3 {
		t.Fatalf("run: %v %v", snap.Counts, err)
	}
	if len(atStart) == 0 || during == nil {
		t.Fatal("the runner did not see the progress")
	}
	if a := during.Tenants["ta"]; a.State != steps.TenantPending || a.IntegrationID != "int_ta" || during.Tenants["tb"].State != steps.TenantRunning {
		t.Fatalf("progress read while tb ran: ta %+v, tb %+v", a, during.Tenants["tb"])
	}
	// The end of the run writes a snapshot and drops the log.
	if _, err := os.Stat(filepath.Join(Dir(dir, m.ID), ProgressLog)); !os.IsNotExist(err) {
		t.Fatalf("progress.log after the run: %v", err)
	}
	p, err := LoadProgress(dir, m.ID)
	if err != nil || !p.Finished || p.Tenants["tc"].State != steps.TenantPending {
		t.Fatalf("final progress %+v %v", p, err)
	}
}

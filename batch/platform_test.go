package batch

import (
	"context"
	"strings"
	"sync"
	"testing"

	"itdr-onboard/partner"
	"itdr-onboard/platform"
	"itdr-onboard/steps"
)

// changesPlatform is a PlatformClient with the platform's changed_since
// semantics: every change bumps a sequence; a cursor is the sequence.
type changesPlatform struct {
	PlatformClient // the calls not under test (nil: they panic)

	mu      sync.Mutex
	seq     int
	ints    map[string]platform.Integration // by id
	changed map[string]int                  // id → seq of its last change
	deleted map[string]platform.DeletedIntegration
	delSeq  map[string]int
	cursors []string // the cursor of every IntegrationChanges call
	refuse  bool     // refuse the next non-empty cursor (400)
}

func newChangesPlatform() *changesPlatform {
	return &changesPlatform{ints: map[string]platform.Integration{}, changed: map[string]int{},
		deleted: map[string]platform.DeletedIntegration{}, delSeq: map[string]int{}}
}

func (f *changesPlatform) put(in platform.Integration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	f.ints[in.ID], f.changed[in.ID] = in, f.seq
}

func (f *changesPlatform) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	f.deleted[id] = platform.DeletedIntegration{ID: id, TenantID: f.ints[id].TenantID}
	f.delSeq[id] = f.seq
	delete(f.ints, id)
}

func (f *changesPlatform) IntegrationChanges(ctx context.Context, cursor string) (platform.IntegrationChanges, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cursors = append(f.cursors, cursor)
	since := -1
	if cursor != "" {
		if f.refuse {
			f.refuse = false
			return platform.IntegrationChanges{}, &platform.Error{Status: 400, Code: platform.CodeInvalidRequest, Call: "GET /v1/integrations"}
		}
		since = len(cursor) // a cursor of n dots is sequence n
	}
	out := platform.IntegrationChanges{Full: cursor == "", Cursor: strings.Repeat(".", f.seq)}
	for id, in := range f.ints {
		if f.changed[id] > since {
			out.Integrations = append(out.Integrations, in)
		}
	}
	for id, d := range f.deleted {
		if since >= 0 && f.delSeq[id] > since {
			out.Deleted = append(out.Deleted, d)
		}
	}
	return out, nil
}

// The shared platform lists every integration once, then each health poll
// asks only for what changed since the one before and applies it to what
// the tenant flows read: a change, a deletion; a cursor the platform
// refuses makes the next poll list everything again.
func TestSharedPlatformFollowsChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newChangesPlatform()
	f.put(platform.Integration{ID: "int_1", TenantID: "aaaa", Status: platform.StatusPending})
	f.put(platform.Integration{ID: "int_2", TenantID: "bbbb", Status: platform.StatusPending})
	s := NewSharedPlatform(f)

	in, err := s.IntegrationForTenant(ctx, "AAAA")
	if err != nil || in == nil || in.ID != "int_1" {
		t.Fatalf("first read: %+v %v", in, err)
	}
	if _, err := s.IntegrationForTenant(ctx, "bbbb"); err != nil || len(f.cursors) != 1 || f.cursors[0] != "" {
		t.Fatalf("the integrations are listed once, in full: cursors %q %v", f.cursors, err)
	}
	// Nothing changed: the poll sends the cursor and gets nothing.
	if got, err := s.HealthChanges(ctx); err != nil || len(got) != 0 || f.cursors[1] != ".." {
		t.Fatalf("unchanged poll: %+v %v (cursors %q)", got, err, f.cursors)
	}
	f.put(platform.Integration{ID: "int_2", TenantID: "bbbb", Status: platform.StatusHealthy})
	f.remove("int_1")
	got, err := s.HealthChanges(ctx)
	if err != nil || len(got) != 1 || got[0].Status != platform.StatusHealthy {
		t.Fatalf("poll after a change: %+v %v", got, err)
	}
	if in, _ := s.Integration(ctx, "int_2"); in.Status != platform.StatusHealthy {
		t.Fatalf("the flows read %+v, not the change", in)
	}
	if in, _ := s.IntegrationForTenant(ctx, "aaaa"); in != nil {
		t.Fatalf("a deleted integration is still read: %+v", in)
	}
	// A refused cursor: an error now, a full list next time.
	f.refuse = true
	if _, err := s.HealthChanges(ctx); !platform.IsInvalidRequest(err) {
		t.Fatalf("refused cursor: %v", err)
	}
	if _, err := s.HealthChanges(ctx); err != nil || f.cursors[len(f.cursors)-1] != "" {
		t.Fatalf("after a refused cursor the poll lists in full: cursors %q %v", f.cursors, err)
	}
}

// repeatingHealth answers every poll with every tenant pending (the same
// answer each time, as a platform without changed_since would) until the
// batch has had quiet polls with all of them pending, then healthy.
type repeatingHealth struct {
	mu               sync.Mutex
	calls, quiet     int
	pending, healthy []platform.Integration
	allPending       func() bool
}

func (h *repeatingHealth) HealthChanges(ctx context.Context) ([]platform.Integration, error) {
	all := h.allPending()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if all {
		h.quiet++
	}
	if h.quiet > 5 {
		return h.healthy, nil
	}
	return h.pending, nil
}

// A poll that changes nothing for a tenant writes no progress and emits
// no event for it: one event per change (the platform's reason once, then
// healthy), however many polls repeat the same state.
func TestBatchUnchangedPollsCostNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := testManifest(partner.LaneReady, partner.LaneReady, partner.LaneReady)
	if _, err := SaveManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	h := &repeatingHealth{}
	for _, tn := range m.Tenants {
		h.pending = append(h.pending, platform.Integration{ID: "int_" + tn.TenantID, TenantID: strings.ToUpper(tn.TenantID), Status: platform.StatusPending, Reason: "waiting for the first audit data"})
		h.healthy = append(h.healthy, platform.Integration{ID: "int_" + tn.TenantID, TenantID: tn.TenantID, Status: platform.StatusHealthy})
	}
	var mu sync.Mutex
	health := map[string]int{}
	b := New(Config{StateDir: dir, Manifest: m, Health: h,
		Runner: RunnerFunc(func(ctx context.Context, tn Tenant, sink func(steps.BatchEvent)) Result {
			return Result{State: steps.TenantPending, Message: "mapped"}
		}),
		OnEvent: func(ev steps.BatchEvent) {
			mu.Lock()
			defer mu.Unlock()
			if ev.Type == "health" {
				health[ev.TenantID]++
			}
		}})
	h.allPending = func() bool { return b.Snapshot().Count(steps.TenantPending) == len(m.Tenants) }
	snap, err := b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Count(steps.TenantHealthy) != len(m.Tenants) || h.quiet < 6 {
		t.Fatalf("outcomes %v after %d polls (%d with every tenant pending)", snap.Counts, h.calls, h.quiet)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, tn := range m.Tenants {
		if health[tn.TenantID] != 2 {
			t.Errorf("%s: %d health events in %d polls, want 2 (the reason, then healthy): %v", tn.TenantID, health[tn.TenantID], h.calls, health)
		}
	}
	if r, _ := snap.Tenant("ta"); r.Evidence == "" || r.Message != "healthy: audit data is flowing" {
		t.Errorf("healthy row: %+v", r)
	}
	p, err := LoadProgress(dir, m.ID)
	if err != nil || p.Tenants["tb"].State != steps.TenantHealthy {
		t.Fatalf("progress: %+v %v", p, err)
	}
}

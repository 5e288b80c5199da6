package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/partner"
)

// recorder is the executor's part of the exact record (receipt.go): every
// write of every flow goes through Executor.write.
type recorder struct {
	mu         sync.Mutex
	reconciled bool
}

// write performs one change under the record: it is journaled as intended
// before the request is sent and as applied / found / failed after it. When
// the outcome is unknown (the request was cancelled) the intent stays open
// and a later read settles it (reconcile). A failure to record is an error:
// nothing is sent unrecorded, and a change made but not recorded fails the
// run loudly.
func (x *Executor) write(ctx context.Context, c checks.Change, do func(context.Context) (checks.Applied, error)) (checks.Applied, error) {
	x.dropPrefetched()
	if x.Receipts == nil || x.Session == nil {
		a, err := do(ctx)
		return x.fill(a, c), err
	}
	if err := x.reconcile(ctx, false); err != nil {
		return checks.Applied{Change: c}, err
	}
	seq, err := x.Receipts.Intend(x.Session, c, x.now())
	if err != nil {
		return checks.Applied{Change: c}, err
	}
	a, err := do(ctx)
	a = x.fill(a, c)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return a, err // outcome unknown: the intent stays open
		}
		if rerr := x.Receipts.Resolve(x.Session, seq, JournalFailed, a, err.Error()); rerr != nil {
			return a, errors.Join(err, rerr)
		}
		return a, err
	}
	status := JournalApplied
	if a.NoOp {
		status = JournalFound
		if sent, ok := x.Receipts.interruptedIntent(x.Session, c.ID); ok {
			// An interrupted run of this onboarding sent this change and
			// its request landed late (after this run's reconciling
			// read): the object is that run's, not another technician's.
			status, a.NoOp = JournalApplied, false
			a.Note = fmt.Sprintf("applied by an interrupted run (sent %s, landed after this run's read); found by this run at %s",
				sent.UTC().Format("2006-01-02 15:04:05Z"), a.At.UTC().Format("2006-01-02 15:04:05Z"))
		} else if a.Note == "" {
			a.Note = foundBeforeWrite
		}
	}
	if rerr := x.Receipts.Resolve(x.Session, seq, status, a, ""); rerr != nil {
		return a, rerr
	}
	return a, nil
}

// found records a change the flow found already in place without sending
// anything; note says what was found ("" for the general wording).
func (x *Executor) found(ctx context.Context, c checks.Change, requestID, note string) error {
	if x.Receipts == nil || x.Session == nil {
		return nil
	}
	// An open intent of an interrupted run for it is settled first, so the
	// change is recorded as that run's, not as found by this one.
	if err := x.reconcile(ctx, false); err != nil {
		return err
	}
	if note == "" {
		note = foundBeforeWrite
	}
	return x.Receipts.Resolve(x.Session, 0, JournalFound, checks.Applied{Change: c, At: x.now(), RequestID: requestID, NoOp: true, Note: note}, "")
}

// foundBeforeWrite is the note of a change found in place whose finder
// said no more (most often the fixer's re-read just before its write).
const foundBeforeWrite = "found already in place (made by another run or technician, not by this run)"

// foundOnWrite is a write the service answered "already exists" to (a
// client reports it as Found): someone else made the change between this
// run's read and its write, so it is recorded as found, with what was
// found — never as applied by this run.
func foundOnWrite(requestID, service, what string) checks.Applied {
	return checks.Applied{RequestID: requestID, NoOp: true,
		Note: service + " answered that it already exists: found " + what + ", made by another run or technician, not by this run"}
}

func (x *Executor) fill(a checks.Applied, c checks.Change) checks.Applied {
	if a.Change.ID == "" {
		a.Change = c
	}
	if a.At.IsZero() {
		a.At = x.now()
	}
	return a
}

// Reconcile settles, by a read, every recorded intent whose outcome is
// unknown: those of earlier runs before this run's first write, and (own)
// this run's own when it ends. It reports a failure to record only.
func (x *Executor) Reconcile(ctx context.Context) error { return x.reconcile(ctx, true) }

func (x *Executor) reconcile(ctx context.Context, own bool) error {
	if x.Receipts == nil || x.Session == nil || x.Session.TenantID == "" {
		return nil
	}
	x.rec.mu.Lock()
	defer x.rec.mu.Unlock()
	if x.rec.reconciled && !own {
		return nil
	}
	open, err := x.Receipts.Unresolved(x.Session, own)
	if err != nil {
		return err
	}
	x.rec.reconciled = true
	if name := removalsOf(open); name != "" {
		// A run that starts no record of its own (unmap run again after a
		// crash) continues the interrupted run's: one receipt then names
		// every removal of both.
		x.Receipts.adopt(name)
	}
	for _, e := range open {
		present, known := x.probe(ctx, e.Change)
		if !known {
			continue // stays unknown; the receipt lists it and the next run asks again
		}
		at := x.now()
		a := checks.Applied{Change: e.Change, At: at}
		status := JournalApplied
		sent, seen := e.Time.UTC().Format("2006-01-02 15:04:05Z"), at.UTC().Format("2006-01-02 15:04:05Z")
		switch {
		case present && isRemoval(e.Change):
			a.Note = fmt.Sprintf("removed by an interrupted run (sent %s); found absent on resume at %s", sent, seen)
		case present:
			a.Note = fmt.Sprintf("applied by an interrupted run (sent %s); found on resume at %s", sent, seen)
		case isRemoval(e.Change):
			status = JournalAbsent
			a.Note = fmt.Sprintf("not removed: the interrupted request (sent %s) did not take effect (found still present at %s)", sent, seen)
		default:
			status = JournalAbsent
			a.Note = fmt.Sprintf("not applied: the interrupted request (sent %s) did not take effect (found absent at %s)", sent, seen)
		}
		if err := x.Receipts.Resolve(x.Session, e.Seq, status, a, ""); err != nil {
			return err
		}
	}
	return nil
}

// probe reads whether a change is in place now: role fixes through the
// check that planned them, consent and the mapping through their own reads.
// known is false when the read failed or the change is of a kind no read
// can settle.
func (x *Executor) probe(ctx context.Context, c checks.Change) (present, known bool) {
	if isRemoval(c) {
		return x.probeRemoval(ctx, c)
	}
	switch c.CheckID {
	case partner.SetupCheck:
		return x.probeSetup(ctx, c)
	case BootstrapChangeCheck:
		if x.Customer == nil {
			return false, false
		}
		return x.Customer.Consented(ctx)
	case ConsentChangeCheck:
		app, err := x.Platform.App(ctx)
		if err != nil {
			return false, false
		}
		sp, err := x.Graph.ServicePrincipalByAppID(ctx, app.AppID)
		if err != nil {
			return false, false
		}
		if c.ID == changeCreateSP {
			return sp != nil, true
		}
		if sp == nil {
			return false, true
		}
		missing, _, _, err := x.missingGrants(ctx, app, sp, x.resourceLookup(ctx))
		if err != nil {
			return false, false
		}
		for _, m := range missing {
			if m.change.ID == c.ID {
				return false, true
			}
		}
		return true, true
	case MappingChangeCheck:
		in, err := x.Platform.IntegrationForTenant(ctx, x.Session.TenantID)
		if err != nil {
			return false, false
		}
		if strings.HasPrefix(c.ID, changeUnmapPrefix) {
			return in == nil || in.ID != c.Args["integration_id"], true
		}
		return in != nil && (c.Args["organization_id"] == "" || in.OrganizationID == c.Args["organization_id"]), true
	}
	if x.Checks == nil {
		return false, false
	}
	chk, ok := x.Checks.Get(c.CheckID)
	if !ok {
		return false, false
	}
	r := checks.RunSafe(ctx, chk, x.checkTimeout())
	if r.Err != nil {
		return false, false
	}
	for _, p := range r.Changes {
		if p.ID == c.ID {
			return false, true
		}
	}
	return true, true
}

// removalsOf returns the record (onboarding name) the open intents belong
// to when all of them are unmap's deletions of one record; else "".
func removalsOf(open []JournalEntry) string {
	name := ""
	for _, e := range open {
		if !isRemoval(e.Change) || (name != "" && e.Onboarding != name) {
			return ""
		}
		name = e.Onboarding
	}
	return name
}

// isRemoval reports one of unmap's deletions (lifecycle.go unmapPlan).
func isRemoval(c checks.Change) bool {
	return strings.HasPrefix(c.ID, unmapChangePrefix) && c.Args["kind"] != ""
}

// probeRemoval reads whether one of unmap's deletions is done: present
// (the change is in place) means its target is gone. The reads bypass the
// clients' caches: the question is what the tenant holds now.
func (x *Executor) probeRemoval(ctx context.Context, c checks.Change) (present, known bool) {
	ctx = m365.Uncached(ctx)
	id := c.Args["id"]
	switch c.Args["kind"] {
	case "integration":
		if x.Platform == nil || x.Session.TenantID == "" {
			return false, false
		}
		in, err := x.Platform.IntegrationForTenant(ctx, x.Session.TenantID)
		if err != nil {
			return false, false
		}
		return in == nil || in.ID != id, true
	case "role-assignment":
		principal := c.Args["principal_id"]
		r, err := x.remover()
		if err != nil || principal == "" {
			return false, false // a journal from before principal_id was recorded: stays unknown
		}
		ras, err := r.RoleAssignments(ctx, principal)
		if err != nil {
			return false, false
		}
		for _, ra := range ras {
			if strings.EqualFold(ra.ID, id) {
				return false, true
			}
		}
		return true, true
	case "service-principal":
		appID := c.Args["app_id"]
		if x.Graph == nil || appID == "" {
			return false, false
		}
		sp, err := x.Graph.ServicePrincipalByAppID(ctx, appID)
		if err != nil {
			return false, false
		}
		return sp == nil || !strings.EqualFold(sp.ID, id), true
	}
	return false, false
}

package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"itdr-onboard/auth"

	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// AccessRemover is what unmap --remove-access needs of m365.Graph beyond
// GraphAPI (kept apart so the other flows' fakes need not implement it).
type AccessRemover interface {
	RoleAssignments(ctx context.Context, principalID string) ([]m365.RoleAssignment, error)
	DeleteRoleAssignment(ctx context.Context, id string) error
	DeleteServicePrincipal(ctx context.Context, id string) error
}

// doFlow performs the effects of the lifecycle flows (lifecycle.go) and of
// status (status.go).
func (x *Executor) doFlow(ctx context.Context, eff Effect) (Event, bool) {
	switch e := eff.(type) {
	case ReadAccess:
		return x.readAccess(ctx), true
	case Remove:
		a, err := x.write(ctx, e.Change, func(ctx context.Context) (checks.Applied, error) { return x.remove(ctx, e.Change) })
		return ChangeApplied{Applied: a, Err: err}, true
	case VerifyUnmap:
		var problems []string
		if in, err := x.Platform.IntegrationForTenant(ctx, x.Session.TenantID); err != nil {
			problems = append(problems, "could not re-read the integration: "+err.Error())
		} else if in != nil {
			problems = append(problems, "the platform still lists integration "+in.ID)
		}
		if e.SP {
			if sp, err := x.Graph.ServicePrincipalByAppID(ctx, e.AppID); err != nil {
				problems = append(problems, "could not re-read the service principal: "+err.Error())
			} else if sp != nil {
				problems = append(problems, "the service principal "+sp.ID+" is still present")
			}
		}
		return UnmapVerified{Problems: problems}, true
	case ListTenants:
		ids, err := x.localTenants()
		return TenantsListed{Dir: x.stateDir(), IDs: ids, Err: err}, true
	case ReadStatus:
		return x.readStatus(ctx, e.TenantID), true
	}
	return nil, false
}

func (x *Executor) stateDir() string {
	if x.Receipts == nil {
		return ""
	}
	return x.Receipts.Dir
}

// localTenants lists the tenants that have local state, sorted.
func (x *Executor) localTenants() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(x.stateDir(), "tenants"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && auth.IsGUID(e.Name()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// readStatus reads a tenant's integration from the platform (when its
// credentials are configured) and its latest local receipt.
func (x *Executor) readStatus(ctx context.Context, tenantID string) StatusRead {
	ev := StatusRead{TenantID: tenantID}
	ev.Receipt, ev.TenantName = x.latestReceipt(tenantID)
	if x.Platform == nil {
		ev.Err = errors.New(checks.NoPlatformReason + " — showing only what is saved locally")
	} else {
		ev.Integration, ev.Err = x.Platform.IntegrationForTenant(ctx, tenantID)
	}
	ev.At = x.now()
	return ev
}

// latestReceipt reads the newest receipt of a tenant (names sort by time).
func (x *Executor) latestReceipt(tenantID string) (*ReceiptStatus, string) {
	if x.Receipts == nil {
		return nil, ""
	}
	dir := x.Receipts.TenantDir(tenantID)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, ""
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasPrefix(e.Name(), "receipt-") && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, ""
	}
	sort.Strings(names)
	path := filepath.Join(dir, names[len(names)-1])
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, ""
	}
	var rc Receipt
	if err := json.Unmarshal(b, &rc); err != nil {
		return &ReceiptStatus{Path: path}, ""
	}
	return &ReceiptStatus{Path: path, WrittenAt: rc.WrittenAt, Operator: rc.Operator, Changes: len(rc.Changes), Declined: len(rc.Declined),
		Evidence: rc.Evidence}, rc.TenantName
}

func (x *Executor) remover() (AccessRemover, error) {
	r, ok := x.Graph.(AccessRemover)
	if !ok {
		return nil, fmt.Errorf("the Graph client cannot remove directory roles or service principals")
	}
	return r, nil
}

func (x *Executor) readAccess(ctx context.Context) AccessRead {
	var ev AccessRead
	r, err := x.remover()
	if err != nil {
		ev.Err = err
		return ev
	}
	if ev.App, ev.Err = x.Platform.App(ctx); ev.Err != nil {
		ev.Err = fmt.Errorf("reading the platform's app: %w", ev.Err)
		return ev
	}
	if ev.SP, ev.Err = x.Graph.ServicePrincipalByAppID(ctx, ev.App.AppID); ev.Err != nil {
		ev.Err = fmt.Errorf("looking up the platform's service principal: %w", ev.Err)
		return ev
	}
	if ev.SP == nil {
		return ev
	}
	if ev.Roles, ev.Err = r.RoleAssignments(ctx, ev.SP.ID); ev.Err != nil {
		ev.Err = fmt.Errorf("reading the service principal's directory roles: %w", ev.Err)
		return ev
	}
	ars, err := x.Graph.AppRoleAssignments(ctx, ev.SP.ID)
	if err != nil {
		ev.Err = fmt.Errorf("reading the service principal's permissions: %w", err)
		return ev
	}
	ev.AppRoles = len(ars)
	return ev
}

// remove performs one of unmap's deletions; a target already gone counts
// as done (NoOp), so running unmap again after a crash finishes the rest.
func (x *Executor) remove(ctx context.Context, c checks.Change) (checks.Applied, error) {
	a := checks.Applied{Change: c}
	id := c.Args["id"]
	var err error
	switch c.Args["kind"] {
	case "integration":
		err = x.Platform.DeleteIntegration(ctx, id)
		if platform.IsNotFound(err) {
			a.NoOp, err = true, nil
			a.Note = "the platform answered 404: already removed (by another run or technician, not by this run)"
		}
	case "role-assignment", "service-principal":
		r, rerr := x.remover()
		if rerr != nil {
			return a, rerr
		}
		if c.Args["kind"] == "role-assignment" {
			err = r.DeleteRoleAssignment(ctx, id)
		} else {
			err = r.DeleteServicePrincipal(ctx, id)
		}
		if m365.IsNotFound(err) {
			a.NoOp, err = true, nil
			a.Note = "Microsoft Graph answered 404: already removed (by another run or technician, not by this run)"
		}
	default:
		err = fmt.Errorf("unknown removal %q", c.Args["kind"])
	}
	a.At = x.now()
	return a, err
}

// flowPanicEvent is the event of a lifecycle effect that panicked.
func flowPanicEvent(eff Effect, err error) Event {
	switch e := eff.(type) {
	case ReadAccess:
		return AccessRead{Err: err}
	case Remove:
		return ChangeApplied{Err: err}
	case VerifyUnmap:
		return UnmapVerified{Problems: []string{err.Error()}}
	case ListTenants:
		return TenantsListed{Err: err}
	case ReadStatus:
		return StatusRead{TenantID: e.TenantID, Err: err}
	}
	return nil
}

package checks

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"itdr-onboard/m365"
)

type platformPermissions struct {
	meta
	g GraphAPI
	p PlatformAPI
}

// NewPlatformPermissions checks, read-only and before any change, that every
// permission the platform's app asks for exists on its resource in this
// tenant. A permission that does not exist (a stale manifest) makes consent
// fail with AADSTS650051 "invalid or out of date" however often it is
// retried, so the wizard stops here instead of after the role fixes.
func NewPlatformPermissions(g GraphAPI, p PlatformAPI) Check {
	return &platformPermissions{
		meta: meta{id: IDPlatformPermissions, title: "Platform app permissions exist in the tenant",
			step: StepPrereqs, phase: Tenant, sev: Required},
		g: g, p: p,
	}
}

func (c *platformPermissions) Run(ctx context.Context) Result {
	if isNil(c.g) {
		return skipped("not signed in")
	}
	if isNil(c.p) {
		return noPlatform()
	}
	app, err := c.p.App(ctx)
	if err != nil {
		return c.undecided("could not read the platform's app manifest", "retry; check the platform API credentials", err)
	}
	// The resources, looked up side by side.
	ids := map[string]bool{}
	for _, p := range app.ApplicationPermissions {
		ids[p.ResourceAppID] = true
	}
	for _, d := range app.DelegatedPermissions {
		ids[d.ResourceAppID] = true
	}
	type found struct {
		sp  *m365.ServicePrincipal
		err error
	}
	res := map[string]found{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sp, err := c.g.ServicePrincipalByAppID(ctx, id)
			mu.Lock()
			res[id] = found{sp, err}
			mu.Unlock()
		}()
	}
	wg.Wait()

	var missing []string
	n := 0
	for _, p := range app.ApplicationPermissions {
		f := res[p.ResourceAppID]
		if f.err != nil {
			return c.undecided("could not read the resource "+nameOr(p.ResourceDisplayName, p.ResourceAppID), "retry", f.err)
		}
		name := nameOr(p.ResourceDisplayName, p.ResourceAppID)
		if f.sp == nil {
			missing = append(missing, fmt.Sprintf("%s: the resource %s has no service principal in this tenant", p.Permission, name))
			continue
		}
		if !hasAppRole(f.sp.AppRoles, p.Permission) {
			missing = append(missing, fmt.Sprintf("%s does not exist on %s", p.Permission, nameOr(f.sp.DisplayName, name)))
			continue
		}
		n++
	}
	for _, d := range app.DelegatedPermissions {
		f := res[d.ResourceAppID]
		if f.err != nil {
			return c.undecided("could not read the resource "+nameOr(d.ResourceDisplayName, d.ResourceAppID), "retry", f.err)
		}
		if f.sp == nil {
			missing = append(missing, fmt.Sprintf("%s: the resource %s has no service principal in this tenant", strings.Join(d.Scopes, " "), nameOr(d.ResourceDisplayName, d.ResourceAppID)))
			continue
		}
		for _, sc := range d.Scopes {
			if !hasScope(f.sp.OAuth2PermissionScopes, sc) {
				missing = append(missing, fmt.Sprintf("%s (delegated) does not exist on %s", sc, nameOr(f.sp.DisplayName, d.ResourceDisplayName)))
				continue
			}
			n++
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return Result{Outcome: Fail, External: true,
			Summary: "the platform's app asks for permissions this tenant cannot grant: " + strings.Join(missing, "; "),
			Remedy:  "Nothing was changed. Retrying will not help: consent would fail with AADSTS650051 (\"invalid or out of date\"). Report it to the platform's support so the app's permission set is corrected; if the tenant lacks a service (for example Exchange Online), add its licence"}
	}
	return Result{Outcome: Pass, Summary: fmt.Sprintf("all %d permissions the platform asks for exist on their resources in this tenant", n)}
}

func nameOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func hasAppRole(rs []m365.AppRole, v string) bool {
	for _, r := range rs {
		if r.Value == v {
			return true
		}
	}
	return false
}

func hasScope(ss []m365.PermissionScope, v string) bool {
	for _, s := range ss {
		if s.Value == v {
			return true
		}
	}
	return false
}

package batch

import (
	"context"
	"strings"
	"sync"

	"itdr-onboard/platform"
	"itdr-onboard/steps"
)

// PlatformClient is what a batch needs of *platform.Client: what every
// tenant flow's executor needs, plus the account and the batch-wide lists.
type PlatformClient interface {
	steps.PlatformAPI
	Account(ctx context.Context) (platform.Account, error)
	AllIntegrations(ctx context.Context, statuses ...string) ([]platform.Integration, error)
	IntegrationChanges(ctx context.Context, cursor string) (platform.IntegrationChanges, error)
}

// SharedPlatform is the one platform client of a batch, shaped for the
// platform's 60 requests a minute per account (docs/platform-api.md): the
// account, the app and the organizations are read once for every tenant;
// the integrations are read with one list request at the start and kept
// current by this batch's own writes (each tenant is changed by one worker
// under its lock, so its entry is never stale for that worker) and by the
// batch's health polls, each of which asks only for what changed since the
// previous one (`changed_since`); a tenant flow's health read is answered
// from that, because the batch polls health for every tenant with one
// request per interval. Writes always go to the platform.
type SharedPlatform struct {
	C PlatformClient

	// listMu orders the integration lists (the first and every poll), so
	// each applies on top of the one before and its cursor follows.
	listMu  sync.Mutex
	mu      sync.Mutex
	account *platform.Account
	orgs    []platform.Organization
	ints    map[string]*platform.Integration // by tenant (lower case)
	byID    map[string]*platform.Integration
	listed  bool
	cursor  string // changed_since for the next poll ("" lists all)
}

// NewSharedPlatform wraps c.
func NewSharedPlatform(c PlatformClient) *SharedPlatform { return &SharedPlatform{C: c} }

// Account implements the subscription check's read, once per batch.
func (s *SharedPlatform) Account(ctx context.Context) (platform.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.account != nil {
		return *s.account, nil
	}
	a, err := s.C.Account(ctx)
	if err == nil {
		s.account = &a
	}
	return a, err
}

// App is read once (the client keeps it).
func (s *SharedPlatform) App(ctx context.Context) (platform.App, error) { return s.C.App(ctx) }

func (s *SharedPlatform) allOrgs(ctx context.Context) ([]platform.Organization, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.orgs != nil {
		return s.orgs, nil
	}
	o, err := s.C.AllOrganizations(ctx, "")
	if err != nil {
		return nil, err
	}
	if o == nil {
		o = []platform.Organization{}
	}
	s.orgs = o
	return o, nil
}

// SetOrganizations seeds the organizations (the batch read them to match).
func (s *SharedPlatform) SetOrganizations(o []platform.Organization) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orgs = append([]platform.Organization{}, o...)
}

// AllOrganizations filters the one list by name (case-insensitive
// substring, as the platform does).
func (s *SharedPlatform) AllOrganizations(ctx context.Context, nameFilter string) ([]platform.Organization, error) {
	all, err := s.allOrgs(ctx)
	if err != nil {
		return nil, err
	}
	f := strings.ToLower(strings.TrimSpace(nameFilter))
	var out []platform.Organization
	for _, o := range all {
		if f == "" || strings.Contains(strings.ToLower(o.Name), f) {
			out = append(out, o)
		}
	}
	return out, nil
}

// Organizations is one page: the whole filtered list (no further pages).
func (s *SharedPlatform) Organizations(ctx context.Context, nameFilter, pageToken string, limit int) (platform.OrganizationPage, error) {
	var p platform.OrganizationPage
	if pageToken != "" {
		return p, nil
	}
	o, err := s.AllOrganizations(ctx, nameFilter)
	if err != nil {
		return p, err
	}
	if limit > 0 && len(o) > limit {
		o = o[:limit]
	}
	p.Organizations = o
	p.Pagination.Total = len(o)
	return p, nil
}

// ensureListed lists every integration once (the first tenant flow's
// read).
func (s *SharedPlatform) ensureListed(ctx context.Context) error {
	s.listMu.Lock()
	defer s.listMu.Unlock()
	s.mu.Lock()
	listed := s.listed
	s.mu.Unlock()
	if listed {
		return nil
	}
	_, err := s.refreshLocked(ctx)
	return err
}

// refreshLocked asks for what changed since the last list (everything
// the first time, or when the platform gave no cursor or refused it) and
// applies it. Callers hold listMu.
func (s *SharedPlatform) refreshLocked(ctx context.Context) ([]platform.Integration, error) {
	s.mu.Lock()
	cur := s.cursor
	if !s.listed {
		cur = ""
	}
	s.mu.Unlock()
	ch, err := s.C.IntegrationChanges(ctx, cur)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if cur != "" && platform.IsInvalidRequest(err) {
			s.cursor = "" // a cursor the platform no longer takes: list all next time
		}
		return nil, err
	}
	if ch.Full {
		s.setLocked(ch.Integrations)
	} else {
		for i := range ch.Integrations {
			s.putLocked(ch.Integrations[i])
		}
		for _, d := range ch.Deleted {
			if in := s.byID[d.ID]; in != nil {
				delete(s.ints, strings.ToLower(in.TenantID))
				delete(s.byID, d.ID)
			}
		}
	}
	s.cursor = ch.Cursor
	return ch.Integrations, nil
}

func (s *SharedPlatform) setLocked(all []platform.Integration) {
	s.ints, s.byID, s.listed = map[string]*platform.Integration{}, map[string]*platform.Integration{}, true
	for i := range all {
		s.putLocked(all[i])
	}
}

func (s *SharedPlatform) putLocked(in platform.Integration) {
	if s.ints == nil {
		s.ints, s.byID = map[string]*platform.Integration{}, map[string]*platform.Integration{}
	}
	if old := s.ints[strings.ToLower(in.TenantID)]; old != nil && old.ID != in.ID {
		delete(s.byID, old.ID)
	}
	s.ints[strings.ToLower(in.TenantID)] = &in
	s.byID[in.ID] = &in
}

// AllIntegrations lists every integration (partner discovery) and makes
// it what the tenant flows read.
func (s *SharedPlatform) AllIntegrations(ctx context.Context, statuses ...string) ([]platform.Integration, error) {
	if len(statuses) > 0 {
		return s.C.AllIntegrations(ctx, statuses...)
	}
	s.listMu.Lock()
	defer s.listMu.Unlock()
	s.mu.Lock()
	s.listed = false // list in full, with a new cursor
	s.mu.Unlock()
	return s.refreshLocked(ctx)
}

// HealthChanges is the batch's one health request per interval: the
// integrations created or changed since the previous list (the first
// time: all of them), which also keep what the tenant flows read current.
// While nothing changes its answer is empty, however large the batch.
func (s *SharedPlatform) HealthChanges(ctx context.Context) ([]platform.Integration, error) {
	s.listMu.Lock()
	defer s.listMu.Unlock()
	return s.refreshLocked(ctx)
}

// IntegrationForTenant answers from the list (read once, kept current).
func (s *SharedPlatform) IntegrationForTenant(ctx context.Context, tenantID string) (*platform.Integration, error) {
	if err := s.ensureListed(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.ints[strings.ToLower(tenantID)]
	if in == nil {
		return nil, nil
	}
	c := *in
	return &c, nil
}

// CreateIntegration maps on the platform and keeps the answer.
func (s *SharedPlatform) CreateIntegration(ctx context.Context, tenantID, organizationID string) (platform.Integration, error) {
	in, err := s.C.CreateIntegration(ctx, tenantID, organizationID)
	if err == nil {
		s.mu.Lock()
		s.putLocked(in)
		s.mu.Unlock()
	}
	return in, err
}

// Integration answers from the latest list (or the mapping's answer); an
// integration this batch has not seen is read from the platform.
func (s *SharedPlatform) Integration(ctx context.Context, id string) (platform.Integration, error) {
	s.mu.Lock()
	in := s.byID[id]
	s.mu.Unlock()
	if in != nil {
		return *in, nil
	}
	return s.C.Integration(ctx, id)
}

// DeleteIntegration deletes on the platform and forgets it.
func (s *SharedPlatform) DeleteIntegration(ctx context.Context, id string) error {
	err := s.C.DeleteIntegration(ctx, id)
	if err == nil || platform.IsNotFound(err) {
		s.mu.Lock()
		if in := s.byID[id]; in != nil {
			delete(s.ints, strings.ToLower(in.TenantID))
			delete(s.byID, id)
		}
		s.mu.Unlock()
	}
	return err
}

package partner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// GraphGDAP is what discovery needs of m365.Graph (partner tenant token).
type GraphGDAP interface {
	DelegatedAdminRelationships(ctx context.Context, status string) ([]m365.DelegatedAdminRelationship, error)
	AccessAssignments(ctx context.Context, relationshipIDs []string) (map[string][]m365.DelegatedAdminAccessAssignment, error)
	MyGroups(ctx context.Context) ([]m365.DirectoryObject, error)
}

// CustomerLister is what discovery needs of Partner Center.
type CustomerLister interface {
	Customers(ctx context.Context) ([]Customer, error)
}

// PlatformReader is what discovery needs of the platform.
type PlatformReader interface {
	AllOrganizations(ctx context.Context, nameFilter string) ([]platform.Organization, error)
	// AllIntegrations lists every integration of the account (one request
	// for up to 500: GET /v1/integrations, docs/platform-api.md).
	AllIntegrations(ctx context.Context, statuses ...string) ([]platform.Integration, error)
}

// Plan is the result of discovery: one row per customer.
type Plan struct {
	At      time.Time    `json:"at"`
	User    string       `json:"user"`
	Partner string       `json:"partner_tenant_id"`
	Rows    []Row        `json:"rows"`
	Counts  map[Lane]int `json:"counts"`
	// Notes are things the technician should know about the plan itself
	// (a source that could not be read).
	Notes []string `json:"notes,omitempty"`
}

// Sources are discovery's readers. PC may be nil (no Partner Center: only
// GDAP customers are listed, with a note).
type Sources struct {
	Graph    GraphGDAP
	PC       CustomerLister
	Platform PlatformReader
}

// Discover reads the partner side only — GDAP relationships, their access
// assignments (Graph $batch), the user's groups, Partner Center customers
// and the platform's organizations and integrations — and computes a lane
// for every customer. It sends no request to any customer tenant.
func Discover(ctx context.Context, src Sources, user, partnerTenant string, now time.Time) (Plan, error) {
	in := Inputs{Now: now, User: user}
	rels, err := src.Graph.DelegatedAdminRelationships(ctx, "")
	if err != nil {
		return Plan{}, fmt.Errorf("reading GDAP relationships: %w", err)
	}
	in.Relationships = rels
	var ids []string
	for _, r := range rels {
		if r.Status == "active" && !r.MicrosoftLed() {
			ids = append(ids, r.ID)
		}
	}
	if in.Assignments, err = src.Graph.AccessAssignments(ctx, ids); err != nil {
		return Plan{}, fmt.Errorf("reading GDAP access assignments: %w", err)
	}
	if in.MyGroups, err = src.Graph.MyGroups(ctx); err != nil {
		return Plan{}, fmt.Errorf("reading your security groups (/me/transitiveMemberOf): %w", err)
	}
	var notes []string
	if src.PC != nil {
		if in.Customers, err = src.PC.Customers(ctx); err != nil {
			if pe, ok := AsError(err); ok && pe.MFARequired() {
				return Plan{}, err
			}
			notes = append(notes, "Partner Center customers could not be read ("+err.Error()+"): customers without a GDAP relationship are not listed.")
		}
	} else {
		notes = append(notes, "Partner Center was not consulted: customers without a GDAP relationship are not listed.")
	}
	if src.Platform != nil {
		if in.Orgs, err = src.Platform.AllOrganizations(ctx, ""); err != nil {
			return Plan{}, fmt.Errorf("reading platform organizations: %w", err)
		}
		// Integrations: one list for the whole account (the platform allows
		// 60 requests a minute; one per mapped tenant would not scale).
		all, err := src.Platform.AllIntegrations(ctx)
		if err != nil {
			return Plan{}, fmt.Errorf("reading the platform's integrations: %w", err)
		}
		in.Integrations = map[string]*platform.Integration{}
		for i := range all {
			in.Integrations[strings.ToLower(all[i].TenantID)] = &all[i]
		}
	} else {
		notes = append(notes, "The platform was not consulted: already-connected and conflicting tenants are not recognised.")
	}
	rows := ComputeLanes(in)
	p := Plan{At: now.UTC(), User: user, Partner: strings.ToLower(partnerTenant), Rows: rows, Counts: map[Lane]int{}, Notes: notes}
	for _, r := range rows {
		p.Counts[r.Lane]++
	}
	return p, nil
}

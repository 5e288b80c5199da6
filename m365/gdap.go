package m365

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// GDAP (granular delegated admin privileges), partner side: Microsoft Graph
// v1.0 delegatedAdminRelationship, delegatedAdminAccessAssignment and the
// signed-in partner user's groups (docs/gdap.md). Every call here reads the
// partner tenant only; none reaches a customer tenant.

// RoleRef is one unifiedRoles entry.
type RoleRef struct {
	RoleDefinitionID string `json:"roleDefinitionId"`
}

// AccessDetails holds the roles of a relationship or assignment.
type AccessDetails struct {
	UnifiedRoles []RoleRef `json:"unifiedRoles"`
}

// GDAPCustomer is a relationship's customer.
type GDAPCustomer struct {
	TenantID    string `json:"tenantId"`
	DisplayName string `json:"displayName"`
}

// DelegatedAdminRelationship is one GDAP relationship.
type DelegatedAdminRelationship struct {
	ID                string        `json:"id"`
	DisplayName       string        `json:"displayName"`
	Status            string        `json:"status"`
	Duration          string        `json:"duration"`
	Customer          GDAPCustomer  `json:"customer"`
	AccessDetails     AccessDetails `json:"accessDetails"`
	ActivatedDateTime *time.Time    `json:"activatedDateTime"`
	EndDateTime       *time.Time    `json:"endDateTime"`
	CreatedDateTime   *time.Time    `json:"createdDateTime"`
}

// MicrosoftLed reports a Microsoft-led default relationship (MLT_*), which
// CIPP and this tool leave out.
func (r DelegatedAdminRelationship) MicrosoftLed() bool {
	return strings.HasPrefix(strings.ToUpper(r.DisplayName), "MLT_")
}

// AccessContainer is the partner security group of an assignment.
type AccessContainer struct {
	AccessContainerID   string `json:"accessContainerId"`
	AccessContainerType string `json:"accessContainerType"`
}

// DelegatedAdminAccessAssignment gives a partner group roles in a customer.
type DelegatedAdminAccessAssignment struct {
	ID              string          `json:"id"`
	Status          string          `json:"status"` // pending, active, deleting, deleted, error
	AccessContainer AccessContainer `json:"accessContainer"`
	AccessDetails   AccessDetails   `json:"accessDetails"`
	CreatedDateTime *time.Time      `json:"createdDateTime"`
}

// DirectoryObject is an entry of /me/transitiveMemberOf.
type DirectoryObject struct {
	ODataType   string `json:"@odata.type"`
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

const gdapRelationships = "/tenantRelationships/delegatedAdminRelationships"

// DelegatedAdminRelationships lists the partner's GDAP relationships
// ($top=300, the maximum; every page followed). status "" lists all.
func (g *Graph) DelegatedAdminRelationships(ctx context.Context, status string) ([]DelegatedAdminRelationship, error) {
	q := url.Values{"$top": {"300"}}
	if status != "" {
		q.Set("$filter", "status eq "+odataQuote(status))
	}
	rels, _, err := listAll[DelegatedAdminRelationship](ctx, g, gdapRelationships, q, nil)
	return rels, err
}

// AccessAssignments returns the access assignments of each relationship,
// read through Graph JSON batches of at most 20 requests.
func (g *Graph) AccessAssignments(ctx context.Context, relationshipIDs []string) (map[string][]DelegatedAdminAccessAssignment, error) {
	out := make(map[string][]DelegatedAdminAccessAssignment, len(relationshipIDs))
	if len(relationshipIDs) == 0 {
		return out, nil
	}
	reqs := make([]BatchRequest, len(relationshipIDs))
	for i, id := range relationshipIDs {
		reqs[i] = BatchRequest{ID: fmt.Sprint(i + 1), Method: http.MethodGet, URL: gdapRelationships + "/" + url.PathEscape(id) + "/accessAssignments"}
	}
	resps, err := g.Batch(ctx, reqs)
	if err != nil {
		return nil, err
	}
	for i, r := range resps {
		call := "GET " + gdapRelationships + "/{id}/accessAssignments"
		if err := r.Err(call); err != nil {
			return nil, err
		}
		var page struct {
			Value []DelegatedAdminAccessAssignment `json:"value"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			return nil, fmt.Errorf("graph: %s: decoding: %w", call, err)
		}
		out[relationshipIDs[i]] = page.Value
	}
	return out, nil
}

// MyGroups lists the signed-in user's groups, direct and nested.
func (g *Graph) MyGroups(ctx context.Context) ([]DirectoryObject, error) {
	objs, _, err := listAll[DirectoryObject](ctx, g, "/me/transitiveMemberOf", url.Values{"$select": {"id,displayName"}}, nil)
	return objs, err
}

package m365

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Application registrations (Graph v1.0 application resource): what
// `partner setup` reads and writes in the partner tenant. Shapes from
// learn.microsoft.com/graph/api/resources/application and
// .../api/application-post-applications, application-update,
// oauth2permissiongrant-update.

// Application is an app registration.
type Application struct {
	ID                     string                   `json:"id"`
	AppID                  string                   `json:"appId"`
	DisplayName            string                   `json:"displayName"`
	SignInAudience         string                   `json:"signInAudience"`
	IsFallbackPublicClient *bool                    `json:"isFallbackPublicClient"`
	PublicClient           PublicClientApplication  `json:"publicClient"`
	RequiredResourceAccess []RequiredResourceAccess `json:"requiredResourceAccess"`
	RequestID              string                   `json:"-"`
	// Found: the create was answered "already exists" and this is the
	// registration looked up then, not made by this call (see
	// ServicePrincipal.Found).
	Found bool `json:"-"`
}

// PublicClientOn reports isFallbackPublicClient (null counts as false).
func (a Application) PublicClientOn() bool {
	return a.IsFallbackPublicClient != nil && *a.IsFallbackPublicClient
}

// PublicClientApplication holds the redirect URIs of public clients.
type PublicClientApplication struct {
	RedirectURIs []string `json:"redirectUris"`
}

// RequiredResourceAccess is one resource's permissions in the manifest.
type RequiredResourceAccess struct {
	ResourceAppID  string           `json:"resourceAppId"`
	ResourceAccess []ResourceAccess `json:"resourceAccess"`
}

// ResourceAccess is one permission: Type "Scope" (delegated) or "Role".
type ResourceAccess struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

const appSelect = "id,appId,displayName,signInAudience,isFallbackPublicClient,publicClient,requiredResourceAccess"

// ApplicationByAppID returns the registration of appID in the signed-in
// tenant, or nil, nil when there is none.
func (g *Graph) ApplicationByAppID(ctx context.Context, appID string) (*Application, error) {
	q := url.Values{"$filter": {"appId eq " + odataQuote(appID)}, "$select": {appSelect}}
	apps, id, err := listAll[Application](ctx, g, "/applications", q, nil)
	if err != nil {
		return nil, err
	}
	for i := range apps {
		if strings.EqualFold(apps[i].AppID, appID) {
			a := apps[i]
			a.RequestID = id
			return &a, nil
		}
	}
	return nil, nil
}

// ApplicationsByName lists the registrations with this display name.
func (g *Graph) ApplicationsByName(ctx context.Context, name string) ([]Application, error) {
	q := url.Values{"$filter": {"displayName eq " + odataQuote(name)}, "$select": {appSelect}}
	apps, _, err := listAll[Application](ctx, g, "/applications", q, nil)
	return apps, err
}

// CreateApplication registers an app (POST /applications, 201). A retry is
// sent only after a look-up by display name found none.
func (g *Graph) CreateApplication(ctx context.Context, app Application) (Application, error) {
	var found *Application
	lookup := func(ctx context.Context) (bool, error) {
		as, err := g.ApplicationsByName(ctx, app.DisplayName)
		if err != nil {
			return false, err
		}
		if len(as) > 0 {
			found = &as[0]
		}
		return found != nil, nil
	}
	body := map[string]any{
		"displayName":            app.DisplayName,
		"signInAudience":         app.SignInAudience,
		"isFallbackPublicClient": app.IsFallbackPublicClient,
		"publicClient":           app.PublicClient,
		"requiredResourceAccess": app.RequiredResourceAccess,
	}
	resp, err := g.send(ctx, graphReq{method: http.MethodPost, path: "/applications", body: body, write: true, recheck: lookup})
	if ok, conflict, werr := resolveWrite(ctx, retried(resp), err, lookup); ok && found != nil {
		a := *found
		a.Found = conflict
		return a, nil
	} else if werr != nil {
		return Application{}, werr
	}
	var out Application
	if err := decodeJSON(resp.Body, &out); err != nil {
		return Application{}, fmt.Errorf("graph: POST /applications: decoding response (request id %s): %w", resp.RequestID, err)
	}
	out.RequestID = resp.RequestID
	return out, nil
}

// UpdateApplication patches an app registration (PATCH
// /applications/{id}, 204). PATCH sets the named properties, so a retry
// repeats the same end state.
func (g *Graph) UpdateApplication(ctx context.Context, objectID string, patch map[string]any) (string, error) {
	resp, err := g.send(ctx, graphReq{method: http.MethodPatch, path: "/applications/" + url.PathEscape(objectID), body: patch})
	if err != nil {
		return "", err
	}
	return resp.RequestID, nil
}

// UpdateOAuth2PermissionGrant replaces the scope of a delegated grant
// (PATCH /oauth2PermissionGrants/{id}, 204).
func (g *Graph) UpdateOAuth2PermissionGrant(ctx context.Context, id, scope string) (string, error) {
	resp, err := g.send(ctx, graphReq{method: http.MethodPatch, path: "/oauth2PermissionGrants/" + url.PathEscape(id),
		body: map[string]string{"scope": scope}, scoped: false})
	if err != nil {
		return "", err
	}
	return resp.RequestID, nil
}

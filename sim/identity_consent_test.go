package sim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// simConsentURL fetches admin_consent_url from the platform API, as the
// wizard does, and fills in the tenant.
func simConsentURL(t *testing.T, srv *Server) string {
	t.Helper()
	ep := srv.Endpoints()
	req, _ := http.NewRequest(http.MethodGet, ep.Platform+"/v1/m365/app", nil)
	req.SetBasicAuth(ep.PlatformAPIKey, ep.PlatformAPISecret)
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var app struct {
		AppID           string `json:"app_id"`
		AdminConsentURL string `json:"admin_consent_url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&app); err != nil || resp.StatusCode != 200 {
		t.Fatalf("m365/app: %d %v", resp.StatusCode, err)
	}
	if !strings.HasPrefix(app.AdminConsentURL, srv.URL()+"/{tenant}/adminconsent?client_id="+app.AppID) {
		t.Fatalf("admin_consent_url %q", app.AdminConsentURL)
	}
	return strings.Replace(app.AdminConsentURL, "{tenant}", srv.TenantID(), 1)
}

func simHasSP(srv *Server, appID string) bool {
	for _, sp := range srv.State().Snapshot().ServicePrincipals {
		if strings.EqualFold(sp.AppID, appID) {
			return true
		}
	}
	return false
}

func TestAdminConsentGrantsThroughPlayBrowser(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	u := simConsentURL(t, srv)
	appID := srv.State().PlatformAppID()
	if simHasSP(srv, appID) {
		t.Fatal("typical already has the platform SP")
	}
	if err := srv.PlayBrowser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if !simHasSP(srv, appID) {
		t.Error("consent did not create the service principal")
	}
	if len(srv.State().Snapshot().AppRoleAssignments) == 0 {
		t.Error("consent granted no application permissions")
	}
}

func TestAdminConsentRedirect(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	c := srv.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	q := url.Values{"client_id": {srv.State().PlatformAppID()}, "redirect_uri": {"https://portal.itdr-platform.example/consent"}, "state": {"s1"}}
	resp, err := c.Get(srv.URL() + "/" + srv.TenantID() + "/adminconsent?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Host != "portal.itdr-platform.example" || loc.Query().Get("admin_consent") != "True" ||
		loc.Query().Get("tenant") != srv.TenantID() || loc.Query().Get("state") != "s1" {
		t.Errorf("redirect %d %v", resp.StatusCode, loc)
	}
}

func TestAdminConsentErrors(t *testing.T) {
	for _, c := range []struct{ scenario, want string }{
		{"bad-permissions", "AADSTS650051"},
		{"not-global-admin", "AADSTS90094"},
		{"sp-soft-deleted", "AADSTS650051"},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			sc, err := LoadScenario(c.scenario)
			if err != nil {
				t.Fatal(err)
			}
			srv := simTestStart(t, sc, Options{})
			err = srv.PlayBrowser(context.Background(), simConsentURL(t, srv))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %s", err, c.want)
			}
		})
	}
}

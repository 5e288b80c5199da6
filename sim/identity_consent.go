package sim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// adminConsent serves GET /{tenant}/adminconsent (v1) and
// GET /{tenant}/v2.0/adminconsent: the scenario's sign-in user accepts the
// consent page at once, and the state does what consent does
// (State.AdminConsent: service principal, application permissions, grant),
// including the scenario's AADSTS650051 behaviour.
//
// With a redirect_uri the result goes there as Microsoft does it
// (?admin_consent=True&tenant=…&state=… or ?error=…&error_description=…);
// without one the browser shows a result page (200 or 400).
func (id *simIdentity) adminConsent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID := q.Get("client_id")
	if clientID == "" {
		id.errorPage(w, http.StatusBadRequest, 900144, "The request must contain the following parameter: 'client_id'.")
		return
	}
	var ru *url.URL
	if raw := q.Get("redirect_uri"); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && strings.EqualFold(u.Hostname(), "localhost"))) || u.Host == "" || u.User != nil {
			id.errorPage(w, http.StatusBadRequest, 50011, fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'.", simClip(raw, 200), simClip(clientID, 80)))
			return
		}
		ru = u
	}
	state := q.Get("state")
	var err error
	if id.s.state == nil {
		err = errors.New("AADSTS90033: A transient error has occurred. Please try again.")
	} else {
		u := id.signInUser()
		err = id.s.state.AdminConsent(clientID, ObjectIDFor(id.tidOf(u), u.UPN), simNewGUID())
	}
	if err != nil {
		code, desc, aad := "server_error", err.Error(), 90033
		var ce *ConsentError
		if errors.As(err, &ce) {
			code, desc, aad = ce.OAuthError, ce.Description, ce.AADSTS
		}
		if ru == nil {
			id.renderPage(w, http.StatusBadRequest, simPage{Title: "Permissions were not granted", Error: desc,
				Lines: []string{"Error Code: " + strconv.Itoa(aad)}})
			return
		}
		v := ru.Query()
		v.Set("error", code)
		v.Set("error_description", desc)
		if state != "" {
			v.Set("state", state)
		}
		ru.RawQuery = v.Encode()
		http.Redirect(w, r, ru.String(), http.StatusFound)
		return
	}
	if ru == nil {
		id.renderPage(w, http.StatusOK, simPage{Title: "Permissions granted", Success: "You have granted the requested permissions on behalf of " + id.s.sc.Tenant.DisplayName + ". You may now close this window."})
		return
	}
	v := ru.Query()
	v.Set("admin_consent", "True")
	v.Set("tenant", id.s.sc.Tenant.ID)
	if sc := q.Get("scope"); sc != "" {
		v.Set("scope", sc)
	}
	if state != "" {
		v.Set("state", state)
	}
	ru.RawQuery = v.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

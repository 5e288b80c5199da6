package conformance

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"itdr-onboard/internal/testsim"
	"itdr-onboard/sim"
)

// env is one running simulator and raw HTTP access to it. Nothing here
// uses the wizard's clients: the point is to look at the wire.
type env struct {
	t        *testing.T
	srv      *sim.Server
	hc       *http.Client
	graphTok string
	exoTok   string
}

func start(t *testing.T, scenario string, edit func(*sim.Scenario)) *env {
	t.Helper()
	srv := testsim.Start(t, scenario, func(sc *sim.Scenario) {
		sc.SignIn.ApproveDelay = 0
		if edit != nil {
			edit(sc)
		}
	})
	return &env{
		t: t, srv: srv, hc: srv.HTTPClient(),
		graphTok: srv.IssueToken("https://graph.microsoft.com"),
		exoTok:   srv.IssueToken("https://outlook.office365.com"),
	}
}

// resp is one raw response.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(method, u string, header http.Header, body io.Reader) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	r, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	return resp{status: r.StatusCode, header: r.Header, body: b}
}

func jsonBody(e *env, v any) io.Reader {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	return bytes.NewReader(b)
}

// graph calls Graph: pathQuery is relative to /v1.0 ("/me?$select=id");
// an absolute URL (a nextLink) is used as it is.
func (e *env) graph(method, pathQuery string, body any) resp {
	e.t.Helper()
	u := pathQuery
	if !strings.HasPrefix(u, "https://") {
		u = e.srv.Endpoints().Graph + "/v1.0" + pathQuery
	}
	h := http.Header{"Authorization": {"Bearer " + e.graphTok}, "ConsistencyLevel": {"eventual"}}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	return e.do(method, u, h, jsonBody(e, body))
}

// exo runs a cmdlet through InvokeCommand the way the m365 client does.
func (e *env) exo(cmdlet string, params map[string]any) resp {
	e.t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	u := e.srv.Endpoints().Exchange + "/adminapi/beta/" + e.srv.TenantID() + "/InvokeCommand"
	h := http.Header{
		"Authorization":    {"Bearer " + e.exoTok},
		"Content-Type":     {"application/json"},
		"X-CmdletName":     {cmdlet},
		"X-ResponseFormat": {"json"},
		"X-AnchorMailbox":  {"UPN:admin@contoso.onmicrosoft.com"},
	}
	return e.do(http.MethodPost, u, h, jsonBody(e, map[string]any{"CmdletInput": map[string]any{"CmdletName": cmdlet, "Parameters": params}}))
}

// platform calls the ITDR platform API with the scenario's key and secret.
func (e *env) platform(method, pathQuery string, body any) resp {
	e.t.Helper()
	ep := e.srv.Endpoints()
	basic := base64.StdEncoding.EncodeToString([]byte(ep.PlatformAPIKey + ":" + ep.PlatformAPISecret))
	h := http.Header{"Authorization": {"Basic " + basic}, "Content-Type": {"application/json; charset=utf-8"}}
	return e.do(method, ep.Platform+pathQuery, h, jsonBody(e, body))
}

// identity posts a form (or GETs when form is nil) to the identity host.
func (e *env) identity(method, path string, form url.Values) resp {
	e.t.Helper()
	u := e.srv.URL() + path
	if form == nil {
		return e.do(method, u, nil, nil)
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}, "Client-Request-Id": {"6b7c7d6e-0f1a-4b2c-8d3e-4f5a6b7c8d9e"}}
	return e.do(method, u, h, strings.NewReader(form.Encode()))
}

// want fails unless the status is one of the given.
func (r resp) want(t *testing.T, what string, status ...int) resp {
	t.Helper()
	for _, s := range status {
		if r.status == s {
			return r
		}
	}
	t.Fatalf("%s: HTTP %d, want %v: %s", what, r.status, status, r.body)
	return r
}

// decode unmarshals the body into a generic map.
func (r resp) decode(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// capture is one raw simulator response and the fields the wizard reads
// from it.
type capture struct {
	name   string
	body   []byte
	fields []Field
}

// conform fails the test for every problem Check finds.
func conform(t *testing.T, c capture) {
	t.Helper()
	if len(c.fields) == 0 {
		t.Fatalf("%s: no fields to check", c.name)
	}
	for _, p := range Check(c.body, c.fields) {
		t.Errorf("%s: %s", c.name, p)
	}
}

func must(fs []Field, err error) []Field {
	if err != nil {
		panic(err)
	}
	return fs
}

// cat joins field lists.
func cat(lists ...[]Field) []Field {
	var out []Field
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

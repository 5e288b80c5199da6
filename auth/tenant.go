package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"itdr-onboard/endpoints"
)

var (
	reGUID = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	})
	reLabel = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`) })
	reTLD   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*[a-zA-Z0-9]$`) })
)

// IsGUID reports whether s is a tenant ID in GUID form.
func IsGUID(s string) bool { return reGUID().MatchString(s) }

// ValidateTenantFlag checks the --tenant value: empty (any organization), a
// GUID, "organizations", or a DNS domain name such as contoso.onmicrosoft.com.
func ValidateTenantFlag(s string) error {
	if s == "" || strings.EqualFold(s, "organizations") || IsGUID(s) {
		return nil
	}
	bad := func(why string) error {
		return fmt.Errorf("--tenant %q: %s; use the tenant ID (a GUID) or a domain such as contoso.onmicrosoft.com", s, why)
	}
	if strings.EqualFold(s, "common") || strings.EqualFold(s, "consumers") {
		return bad("personal Microsoft accounts cannot be onboarded")
	}
	d := strings.TrimSuffix(s, ".")
	if len(d) > 253 {
		return bad("domain name is too long")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		if strings.Count(s, "-") >= 3 {
			return bad("not a valid GUID")
		}
		return bad("not a GUID or a domain name")
	}
	for _, l := range labels {
		if !reLabel().MatchString(l) {
			return bad("not a valid domain name")
		}
	}
	if !reTLD().MatchString(labels[len(labels)-1]) {
		return bad("not a valid domain name")
	}
	return nil
}

// TenantInfo is what a tenant's public openid-configuration says about it.
type TenantInfo struct {
	// ID is the tenant GUID ("" when tenant was "" or "organizations").
	ID string
	// Cloud is one of endpoints.Cloud*, from cloud_instance_name or the
	// issuer host; "" when neither is a known Microsoft cloud.
	Cloud string
	// Issuer is the token issuer, e.g. https://login.microsoftonline.com/<id>/v2.0.
	Issuer string
	// CloudInstance is cloud_instance_name as sent (microsoftonline.com, ...).
	CloudInstance string
	// Region is tenant_region_scope when present (NA, EU, USGov, ...).
	Region string
}

type openIDConfig struct {
	Issuer            string `json:"issuer"`
	TokenEndpoint     string `json:"token_endpoint"`
	CloudInstanceName string `json:"cloud_instance_name"`
	TenantRegionScope string `json:"tenant_region_scope"`
}

// ResolveTenant reads the tenant's public openid-configuration (no sign-in
// needed) to turn a domain into a tenant ID and detect its cloud. An unknown
// tenant gives an *Error of ClassTenantNotFound; transport failures ClassNetwork.
//
// A successful answer is remembered for the life of the process (a tenant's
// id and cloud do not change): the CLI's cloud detection, the lock and the
// prerequisites step all ask, and only the first one goes to the network.
func ResolveTenant(ctx context.Context, hc *http.Client, ep endpoints.Endpoints, tenant string) (TenantInfo, error) {
	if err := ValidateTenantFlag(tenant); err != nil {
		return TenantInfo{}, err
	}
	key := strings.ToLower(ep.AuthorityFor(tenant))
	if v, ok := resolved.Load(key); ok {
		return v.(TenantInfo), nil
	}
	info, err := resolveTenant(ctx, hc, ep, tenant)
	if err == nil {
		resolved.Store(key, info)
	}
	return info, err
}

// resolved holds successful ResolveTenant answers by authority URL.
var resolved sync.Map

func resolveTenant(ctx context.Context, hc *http.Client, ep endpoints.Endpoints, tenant string) (TenantInfo, error) {
	if hc == nil {
		hc = ep.HTTPClient()
	}
	retrying := *hc
	retrying.Transport = newRetryTransport(hc.Transport)
	hc = &retrying
	u := ep.AuthorityFor(tenant) + "/v2.0/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return TenantInfo{}, fmt.Errorf("resolve tenant: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return TenantInfo{}, Classify(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return TenantInfo{}, Classify(err)
	}
	if resp.StatusCode != http.StatusOK {
		e := Classify(&httpStatusError{host: req.URL.Host, status: resp.StatusCode, body: string(body)})
		if e.Class == ClassUnknown && (resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusNotFound) {
			e.apply(codeRules[90002], "")
			e.Code = 90002
		}
		return TenantInfo{}, e
	}
	var oc openIDConfig
	if err := json.Unmarshal(body, &oc); err != nil || oc.Issuer == "" {
		return TenantInfo{}, fmt.Errorf("resolve tenant: %s did not return an OpenID configuration", req.URL.Host)
	}
	openIDDocs.Store(openIDKey(req.URL), body)
	info := TenantInfo{Issuer: oc.Issuer, CloudInstance: oc.CloudInstanceName, Region: oc.TenantRegionScope}
	if iu, err := url.Parse(oc.Issuer); err == nil {
		for _, seg := range strings.Split(strings.Trim(iu.Path, "/"), "/") {
			if IsGUID(seg) {
				info.ID = strings.ToLower(seg)
				break
			}
		}
		if oc.CloudInstanceName != "" {
			info.Cloud = endpoints.CloudForAuthorityHost(oc.CloudInstanceName)
		}
		if info.Cloud == "" {
			info.Cloud = endpoints.CloudForAuthorityHost(iu.Hostname())
		}
	}
	if info.Cloud == endpoints.CloudUSGov && strings.EqualFold(oc.TenantRegionScope, "DOD") {
		info.Cloud = endpoints.CloudUSGovDoD
	}
	return info, nil
}

// openIDDocs holds the OpenID configuration documents ResolveTenant read,
// by openIDKey of their URL. The sign-in asks MSAL for the same document
// (its authority metadata); openIDCache serves it from here instead of a
// second round trip to the identity platform in the same process.
var openIDDocs sync.Map

// openIDKey is an OpenID configuration URL without case (hosts and tenant
// names are case-insensitive) and without query.
func openIDKey(u *url.URL) string {
	return strings.ToLower(u.Scheme + "://" + u.Host + u.Path)
}

// openIDCache answers MSAL's GET of an OpenID configuration document that
// ResolveTenant already read in this process; every other request goes to
// next.
type openIDCache struct{ next http.RoundTripper }

func (c openIDCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && req.URL.RawQuery == "" && strings.HasSuffix(req.URL.Path, "/.well-known/openid-configuration") {
		if b, ok := openIDDocs.Load(openIDKey(req.URL)); ok {
			body := b.([]byte)
			if req.Body != nil {
				req.Body.Close()
			}
			return &http.Response{Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}, ContentLength: int64(len(body)),
				Body: io.NopCloser(bytes.NewReader(body)), Request: req}, nil
		}
	}
	return c.next.RoundTrip(req)
}

// httpStatusError is a non-200 answer from an identity endpoint we called
// ourselves. Its text has the same "…:\n{json}" shape MSAL uses.
type httpStatusError struct {
	host   string
	status int
	body   string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("%s answered HTTP %d:\n%s", e.host, e.status, e.body)
}

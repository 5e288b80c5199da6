// Package endpoints holds the one value that says where every remote service
// lives: the Microsoft identity platform (the MSAL authority host), Microsoft
// Graph, the Exchange Online admin API and the ITDR platform's HTTP API.
//
// Production uses one of the built-in clouds. The tenant simulator is just
// another Endpoints value (loopback URLs plus the PEM of the CA it generated),
// so the real client code runs unchanged against it.
package endpoints

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"itdr-onboard/internal/atomicfile"
	"itdr-onboard/ui/text"
)

// Cloud names accepted by --cloud.
const (
	CloudGlobal   = "global"
	CloudUSGov    = "usgov"
	CloudUSGovDoD = "usgovdod"
	CloudChina    = "china"
)

// DefaultClientID is the public client the wizard signs in with unless
// --client-id or the endpoints file says otherwise (Microsoft Graph Command
// Line Tools, a Microsoft first-party public client present in every tenant).
const DefaultClientID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"

// DefaultPlatformURL is the production ITDR platform API.
const DefaultPlatformURL = "https://api.itdr-platform.example"

// Endpoints says where every service lives. All URLs are absolute https URLs
// without a trailing slash.
type Endpoints struct {
	// Cloud is one of the Cloud* names, or "sim" for the tenant simulator.
	Cloud string `json:"cloud"`
	// Authority is the identity host, e.g. https://login.microsoftonline.com.
	// The MSAL authority is Authority + "/" + tenant.
	Authority string `json:"authority"`
	// Graph is the Microsoft Graph base, e.g. https://graph.microsoft.com.
	// Requests go to Graph + "/v1.0/...".
	Graph string `json:"graph"`
	// GraphResource is the resource identifier used in scopes
	// (GraphResource + "/.default"). Defaults to Graph.
	GraphResource string `json:"graph_resource,omitempty"`
	// Exchange is the Exchange Online base, e.g. https://outlook.office365.com.
	// Requests go to Exchange + "/adminapi/beta/{tenant}/InvokeCommand".
	Exchange string `json:"exchange"`
	// ExchangeResource is the resource identifier used in scopes. Defaults to Exchange.
	ExchangeResource string `json:"exchange_resource,omitempty"`
	// Platform is the ITDR platform API base; requests go to Platform + "/v1/...".
	Platform string `json:"platform"`
	// PartnerCenter is the Partner Center REST API base (GDAP partner flows),
	// e.g. https://api.partnercenter.microsoft.com; requests go to
	// PartnerCenter + "/v1/...". Empty where there is none.
	PartnerCenter string `json:"partner_center,omitempty"`
	// PartnerCenterResource is the resource identifier used in scopes.
	// Defaults to https://api.partnercenter.microsoft.com.
	PartnerCenterResource string `json:"partner_center_resource,omitempty"`
	// ClientID is the public client application the technician signs in with.
	ClientID string `json:"client_id,omitempty"`
	// CACertPEM, when set, is the only CA the HTTP client trusts (the
	// simulator's). Empty means the system roots.
	CACertPEM string `json:"ca_cert_pem,omitempty"`
	// InstanceDiscovery turns on MSAL's instance discovery (on for real clouds,
	// off for the simulator, which is not a Microsoft host).
	InstanceDiscovery bool `json:"instance_discovery"`
	// PlatformAPIKey and PlatformAPISecret are only ever set in a simulator's
	// endpoints file (its demo account). Production reads them from the
	// environment (ITDR_API_KEY, ITDR_API_SECRET).
	PlatformAPIKey    string `json:"platform_api_key,omitempty"`
	PlatformAPISecret string `json:"platform_api_secret,omitempty"`
}

var clouds = map[string]Endpoints{
	CloudGlobal: {
		Cloud:     CloudGlobal,
		Authority: "https://login.microsoftonline.com",
		Graph:     "https://graph.microsoft.com",
		Exchange:  "https://outlook.office365.com",
	},
	CloudUSGov: {
		Cloud:     CloudUSGov,
		Authority: "https://login.microsoftonline.us",
		Graph:     "https://graph.microsoft.us",
		Exchange:  "https://outlook.office365.us",
	},
	CloudUSGovDoD: {
		Cloud:     CloudUSGovDoD,
		Authority: "https://login.microsoftonline.us",
		Graph:     "https://dod-graph.microsoft.us",
		Exchange:  "https://webmail.apps.mil",
	},
	CloudChina: {
		Cloud:     CloudChina,
		Authority: "https://login.partner.microsoftonline.cn",
		Graph:     "https://microsoftgraph.chinacloudapi.cn",
		Exchange:  "https://partner.outlook.cn",
	},
}

// Clouds lists the names --cloud accepts, sorted.
func Clouds() []string {
	names := make([]string, 0, len(clouds))
	for n := range clouds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ForCloud returns the production endpoints of a named cloud.
func ForCloud(name string) (Endpoints, error) {
	e, ok := clouds[strings.ToLower(name)]
	if !ok {
		return Endpoints{}, fmt.Errorf("unknown cloud %q: use one of %s", name, strings.Join(Clouds(), ", "))
	}
	e.Platform = DefaultPlatformURL
	if e.Cloud == CloudGlobal {
		e.PartnerCenter = PartnerCenterURL
	}
	e.ClientID = DefaultClientID
	e.InstanceDiscovery = true
	return e, nil
}

// Global is the default: Microsoft's global cloud.
func Global() Endpoints {
	e, _ := ForCloud(CloudGlobal)
	return e
}

// CloudForAuthorityHost maps an identity host (as found in a tenant's public
// openid-configuration) to a cloud name; "" when unknown.
func CloudForAuthorityHost(host string) string {
	host = strings.ToLower(host)
	switch {
	case strings.HasSuffix(host, "microsoftonline.com"):
		return CloudGlobal
	case strings.HasSuffix(host, "microsoftonline.us"):
		return CloudUSGov
	case strings.HasSuffix(host, "microsoftonline.cn"):
		return CloudChina
	}
	return ""
}

// GraphScope is the scope for a Graph token.
func (e Endpoints) GraphScope() string {
	r := e.GraphResource
	if r == "" {
		r = e.Graph
	}
	return strings.TrimRight(r, "/") + "/.default"
}

// PartnerCenterURL is Partner Center's REST API (global cloud).
const PartnerCenterURL = "https://api.partnercenter.microsoft.com"

// PartnerCenterScope is the scope for a Partner Center token (App+User,
// delegated user_impersonation).
func (e Endpoints) PartnerCenterScope() string {
	r := e.PartnerCenterResource
	if r == "" {
		r = PartnerCenterURL
	}
	return strings.TrimRight(r, "/") + "/user_impersonation"
}

// ExchangeScope is the scope for an Exchange Online admin API token.
func (e Endpoints) ExchangeScope() string {
	r := e.ExchangeResource
	if r == "" {
		r = e.Exchange
	}
	return strings.TrimRight(r, "/") + "/.default"
}

// AuthorityFor returns the MSAL authority URL for a tenant (GUID, domain or
// "organizations").
func (e Endpoints) AuthorityFor(tenant string) string {
	if tenant == "" {
		tenant = "organizations"
	}
	return strings.TrimRight(e.Authority, "/") + "/" + tenant
}

// Validate reports the first missing or malformed field, naming it.
func (e Endpoints) Validate() error {
	for _, f := range []struct{ name, v string }{
		{"authority", e.Authority}, {"graph", e.Graph}, {"exchange", e.Exchange}, {"platform", e.Platform},
	} {
		if f.v == "" {
			return fmt.Errorf("endpoints: %q is missing", f.name)
		}
		u, err := url.Parse(f.v)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("endpoints: %q must be an absolute https URL, got %q", f.name, f.v)
		}
	}
	if e.CACertPEM != "" {
		if ok := x509.NewCertPool().AppendCertsFromPEM([]byte(e.CACertPEM)); !ok {
			return errors.New("endpoints: \"ca_cert_pem\" holds no PEM certificate")
		}
	}
	return nil
}

// Load reads an endpoints file written by `sim serve` (or by hand).
func Load(path string) (Endpoints, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Endpoints{}, fmt.Errorf("--endpoints: %w", err)
	}
	var e Endpoints
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Endpoints{}, fmt.Errorf("--endpoints %s: not a valid endpoints file: %w", path, err)
	}
	if e.ClientID == "" {
		e.ClientID = DefaultClientID
	}
	if err := e.Validate(); err != nil {
		return Endpoints{}, fmt.Errorf("--endpoints %s: %w", path, err)
	}
	return e, nil
}

// Save writes the endpoints file with mode 0600 (it may hold the simulator's
// demo platform credentials).
func (e Endpoints) Save(path string) error {
	b, err := text.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o600)
}

// HTTPClient returns the client every package must use for these endpoints:
// it trusts only CACertPEM when set (nothing is installed system-wide; the
// simulator on loopback, never through a proxy); otherwise it follows
// HTTPS_PROXY/NO_PROXY and SSL_CERT_FILE as they are now (env.go). It has
// sane transport timeouts and an overall per-request timeout.
func (e Endpoints) HTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = 60 * time.Second
	tr.MaxIdleConnsPerHost = 16
	if e.CACertPEM != "" {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(e.CACertPEM))
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		tr.Proxy = nil // loopback simulator: never through a proxy
	} else {
		tr.Proxy = envProxy()
		if f := os.Getenv("SSL_CERT_FILE"); f != "" {
			// CheckEnvironment reported a bad file already; an unreadable
			// one here trusts nothing rather than silently the system.
			pool, err := loadCAFile(f)
			if err != nil {
				pool = x509.NewCertPool()
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
	}
	return &http.Client{Transport: tr, Timeout: 90 * time.Second}
}

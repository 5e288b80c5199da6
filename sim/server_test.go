package sim

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"strings"
	"testing"

	"itdr-onboard/endpoints"
)

func TestEveryBuiltinScenarioStarts(t *testing.T) {
	for _, n := range BuiltinScenarios() {
		sc, err := LoadScenario(n)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := Start(sc, Options{})
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if srv.State() == nil || srv.TenantID() != sc.Tenant.ID {
			t.Errorf("%s: state %v tenant %s", n, srv.State() != nil, srv.TenantID())
		}
		srv.Close()
	}
}

func TestEndpointsAndTLS(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	ep := srv.Endpoints()
	if err := ep.Validate(); err != nil {
		t.Fatal(err)
	}
	if ep.Cloud != "sim" || ep.InstanceDiscovery || ep.ClientID != endpoints.DefaultClientID ||
		ep.Graph != ep.Authority+"/graph" || ep.Exchange != ep.Authority+"/exchange" || ep.Platform != ep.Authority+"/platform" ||
		ep.GraphScope() != "https://graph.microsoft.com/.default" || ep.ExchangeScope() != "https://outlook.office365.com/.default" {
		t.Errorf("endpoints %+v", ep)
	}
	if ep.PlatformAPIKey == "" || ep.PlatformAPISecret == "" {
		t.Error("platform credentials missing")
	}
	if !strings.HasPrefix(ep.Authority, "https://127.0.0.1:") {
		t.Errorf("authority %s", ep.Authority)
	}
	// The leaf is ECDSA P-256 for 127.0.0.1 and localhost, signed by the CA.
	blk, _ := pem.Decode([]byte(ep.CACertPEM))
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("CA: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	host := strings.TrimPrefix(ep.Authority, "https://")
	for _, name := range []string{"127.0.0.1", "localhost"} {
		conn, err := tls.Dial("tcp", host, &tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		leaf := conn.ConnectionState().PeerCertificates[0]
		if leaf.PublicKeyAlgorithm != x509.ECDSA {
			t.Errorf("leaf key %v", leaf.PublicKeyAlgorithm)
		}
		if conn.ConnectionState().NegotiatedProtocol == "h2" {
			t.Error("HTTP/2 negotiated; faults need HTTP/1.1")
		}
		conn.Close()
	}
	// The default system roots do not trust it.
	if _, err := http.Get(ep.Authority + "/devicelogin"); err == nil {
		t.Error("the simulator's certificate is trusted without its CA")
	}
}

func TestIssueTokenWorksWithGraphAndExchange(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	c := srv.HTTPClient()
	req, _ := http.NewRequest(http.MethodGet, srv.Endpoints().Graph+"/v1.0/me", nil)
	req.Header.Set("Authorization", "Bearer "+srv.IssueToken("https://graph.microsoft.com"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me map[string]any
	json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if resp.StatusCode != 200 || me["userPrincipalName"] != "admin@contoso.onmicrosoft.com" || me["id"] != ObjectIDFor(srv.TenantID(), "admin@contoso.onmicrosoft.com") {
		t.Errorf("/me: %d %v", resp.StatusCode, me)
	}
	// An Exchange token is not a Graph token.
	req, _ = http.NewRequest(http.MethodGet, srv.Endpoints().Graph+"/v1.0/me", nil)
	req.Header.Set("Authorization", "Bearer "+srv.IssueToken("https://outlook.office365.com"))
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("exchange token on graph: %d", resp.StatusCode)
	}
	recs := simWaitRequests(t, srv, 2)
	if recs[0].Group != GroupGraph || recs[0].Path != "/graph/v1.0/me" {
		t.Errorf("record %+v", recs[0])
	}
}

func TestCloseReleasesPort(t *testing.T) {
	srv, err := Start(simTestScenario(t, nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(srv.URL(), "https://")
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port still held: %v", err)
	}
	ln.Close()
}

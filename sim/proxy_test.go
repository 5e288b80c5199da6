package sim

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// simProxyClient is a client that goes through the simulator's proxy and
// trusts only its CA (what HTTPS_PROXY + SSL_CERT_FILE give a real client).
func simProxyClient(t *testing.T, srv *Server, px *Proxy) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(srv.Endpoints().CACertPEM)) {
		t.Fatal("CA PEM does not parse")
	}
	pu, _ := url.Parse(px.URL())
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:           http.ProxyURL(pu),
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
}

// Issue 17 §1: the certificate names Microsoft's hosts and loopback; the CA
// says it is the simulator's, is valid for days, and only its certificate
// (no key) is ever exported.
func TestCertificateNamesMicrosoftHostsAndCAIsShortLived(t *testing.T) {
	t.Parallel()
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	caPEM := srv.Endpoints().CACertPEM
	if strings.Contains(caPEM, "PRIVATE KEY") {
		t.Fatal("the exported CA PEM holds a private key")
	}
	blk, _ := pem.Decode([]byte(caPEM))
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA || !strings.Contains(strings.ToLower(ca.Subject.CommonName), "simulator") {
		t.Errorf("CA subject %q does not say it is the simulator's", ca.Subject.CommonName)
	}
	if life := ca.NotAfter.Sub(ca.NotBefore); life > 8*24*time.Hour {
		t.Errorf("CA valid for %v; want days, not years", life)
	}
	leaf := srv.tls.leaf.Leaf
	if leaf == nil {
		leaf, _ = x509.ParseCertificate(srv.tls.leaf.Certificate[0])
	}
	want := []string{"localhost", "login.microsoftonline.com", "login.microsoftonline.us", "login.partner.microsoftonline.cn",
		"graph.microsoft.com", "outlook.office365.com", "manage.office.com", "management.azure.com"}
	for _, h := range want {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("the certificate does not carry %s: %v", h, err)
		}
	}
	for _, ip := range []string{"127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(ip); err != nil {
			t.Errorf("the certificate does not carry %s: %v", ip, err)
		}
	}
	if err := leaf.VerifyHostname("example.com"); err == nil {
		t.Error("the certificate carries example.com")
	}
}

// Issue 17 §1: the proxy serves Microsoft's host names from the simulator
// and refuses every other host and plain HTTP (nothing leaves loopback).
func TestProxyServesMicrosoftHostsAndRefusesOthers(t *testing.T) {
	t.Parallel()
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	if _, err := srv.StartProxy("0.0.0.0:0"); err == nil {
		t.Fatal("the proxy listened on a non-loopback address")
	}
	px, err := srv.StartProxy("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	c := simProxyClient(t, srv, px)

	resp, err := c.Get("https://login.microsoftonline.com/" + srv.TenantID() + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if resp.StatusCode != 200 || doc["token_endpoint"] != "https://login.microsoftonline.com/"+srv.TenantID()+"/oauth2/v2.0/token" {
		t.Fatalf("openid-configuration through the proxy: %d %v", resp.StatusCode, doc["token_endpoint"])
	}

	req, _ := http.NewRequest(http.MethodGet, "https://graph.microsoft.com/v1.0/me", nil)
	req.Header.Set("Authorization", "Bearer "+srv.IssueToken("https://graph.microsoft.com"))
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me map[string]any
	json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if resp.StatusCode != 200 || me["@odata.context"] != "https://graph.microsoft.com/v1.0/$metadata#users/$entity" {
		t.Fatalf("/me through the proxy: %d %v", resp.StatusCode, me["@odata.context"])
	}

	for _, target := range []string{"https://example.com/", "https://graph.microsoft.com:8443/v1.0/me", "https://login.microsoftonline.com.evil.example/"} {
		_, err := c.Get(target)
		if err == nil || !strings.Contains(err.Error(), "Forbidden") {
			t.Errorf("GET %s through the proxy: %v; want the CONNECT refused (403)", target, err)
		}
	}
	pu, _ := url.Parse(px.URL())
	plain := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 10 * time.Second}
	resp, err = plain.Get("http://example.com/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(string(body), "only CONNECT") {
		t.Errorf("plain HTTP through the proxy: %d %q", resp.StatusCode, body)
	}
	var refused, viaHost int
	for _, r := range srv.Requests() {
		switch {
		case r.Group == GroupProxy:
			refused++
		case r.Host != "":
			viaHost++
		}
	}
	if refused != 4 || viaHost != 2 {
		t.Errorf("request log: %d refusals (want 4), %d requests under Microsoft's host names (want 2)", refused, viaHost)
	}
}

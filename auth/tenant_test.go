package auth

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"itdr-onboard/endpoints"
)

func TestValidateTenantFlag(t *testing.T) {
	for _, ok := range []string{"", "organizations", fakeTenantID, "CONTOSO.onmicrosoft.com", "contoso.com", "sub.contoso.co.uk", "xn--bcher-kva.example", "contoso.com."} {
		if err := ValidateTenantFlag(ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"contoso", "common", "consumers", "11111111-2222-3333-4444-55555555555", "-contoso.com", "contoso..com", "con toso.com", "contoso.c", "contoso.123", "https://contoso.com", "a@contoso.com", strings.Repeat("a", 64) + ".com"} {
		err := ValidateTenantFlag(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if !strings.HasPrefix(err.Error(), "--tenant ") {
			t.Errorf("%q: error does not name --tenant: %v", bad, err)
		}
	}
}

func TestResolveTenant(t *testing.T) {
	f := newFakeIdP(t)
	info, err := ResolveTenant(context.Background(), f.srv.Client(), f.endpoints(), fakeDomain)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != fakeTenantID || info.Cloud != endpoints.CloudGlobal || info.Region != "EU" || !strings.HasSuffix(info.Issuer, fakeTenantID+"/v2.0") {
		t.Fatalf("%+v", info)
	}
	if f.count("GET /"+fakeDomain+"/v2.0/.well-known/openid-configuration") != 1 {
		t.Fatalf("requests %v", f.requests)
	}

	_, err = ResolveTenant(context.Background(), f.srv.Client(), f.endpoints(), "unknown.example.com")
	var e *Error
	if !errors.As(err, &e) || e.Class != ClassTenantNotFound || e.Code != 90002 || !strings.Contains(e.Description, "not found") {
		t.Fatalf("unknown tenant: %v", err)
	}

	if _, err := ResolveTenant(context.Background(), f.srv.Client(), f.endpoints(), "bad tenant"); err == nil || !strings.Contains(err.Error(), "--tenant") {
		t.Fatalf("bad flag: %v", err)
	}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	ep := f.endpoints()
	ep.Authority = "https://" + addr
	_, err = ResolveTenant(context.Background(), f.srv.Client(), ep, fakeDomain)
	if !errors.As(err, &e) || e.Class != ClassNetwork || !strings.Contains(e.Message, addr) {
		t.Fatalf("unreachable: %v", err)
	}
}

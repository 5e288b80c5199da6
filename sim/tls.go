package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// simTLS is the simulator's in-memory PKI: a CA and one leaf, both ECDSA
// P-256, generated at start; the private keys are never written anywhere
// (only the CA certificate is, by `sim serve --ca-out`). The CA's name says it
// is the simulator's and it is valid for 7 days. The leaf names loopback
// (127.0.0.1, ::1, localhost) and every host the proxy (`sim serve --proxy`)
// answers for, so a client that trusts the CA can be sent to Microsoft's own
// host names.
type simTLS struct {
	caPEM []byte
	leaf  tls.Certificate
}

func simNewTLS(now time.Time) (*simTLS, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sim tls: %w", err)
	}
	notBefore := now.Add(-time.Hour)
	notAfter := now.Add(7 * 24 * time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber:          simSerial(),
		Subject:               pkix.Name{CommonName: "itdr-onboard tenant simulator CA", Organization: []string{"itdr-onboard simulator"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("sim tls: CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("sim tls: CA: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sim tls: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: simSerial(),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     append([]string{"localhost"}, ProxyHosts()...),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("sim tls: leaf: %w", err)
	}
	return &simTLS{
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		leaf:  tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey},
	}, nil
}

// serverConfig offers HTTP/1.1 only, so fault injection can hijack
// connections (connection reset) and slow-write bodies.
func (t *simTLS) serverConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{t.leaf},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}

func simSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

package sim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"sync"
)

// The simulator signs its tokens like the Microsoft identity platform does:
// RS256 with a key the openid-configuration's jwks_uri publishes, its kid (and
// x5t) in the token header (learn.microsoft.com/entra/identity-platform/
// access-tokens "Validate tokens": header alg RS256, kid; keys at jwks_uri).
// The 2048-bit key is generated once per process, when the first token is
// signed, and never written anywhere.
type simSigner struct {
	key *rsa.PrivateKey
	kid string
	err error
}

var (
	simSignerOnce sync.Once
	simSignerVal  simSigner
)

func simGetSigner() *simSigner {
	simSignerOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			simSignerVal.err = err
			return
		}
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		sum := sha1.Sum(der) // x5t-style thumbprint, as Entra's kids are
		simSignerVal = simSigner{key: k, kid: base64.RawURLEncoding.EncodeToString(sum[:])}
	})
	return &simSignerVal
}

// simJWT is a compact JWS: RS256-signed with the process key.
func simJWT(claims map[string]any) string {
	sg := simGetSigner()
	if sg.err != nil {
		// No entropy for a key: an unsigned token, which every validator
		// rejects, rather than a crash.
		hdr, _ := json.Marshal(map[string]any{"typ": "JWT", "alg": "none"})
		pl, _ := json.Marshal(claims)
		return base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(pl) + "."
	}
	hdr, _ := json.Marshal(map[string]any{"typ": "JWT", "alg": "RS256", "kid": sg.kid, "x5t": sg.kid})
	pl, _ := json.Marshal(claims)
	signing := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(pl)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, sg.key, crypto.SHA256, sum[:])
	if err != nil {
		return signing + "."
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// jwks is GET /{tenant}/discovery/v2.0/keys (and /discovery/keys): the
// public signing key as a JWK set.
func (id *simIdentity) jwks(w http.ResponseWriter, r *http.Request) {
	sg := simGetSigner()
	keys := []any{}
	if sg.err == nil {
		pub := sg.key.PublicKey
		keys = append(keys, map[string]any{
			"kty": "RSA", "use": "sig", "kid": sg.kid, "x5t": sg.kid,
			"n":      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e":      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
			"issuer": id.base(r) + "/" + id.s.sc.Tenant.ID + "/v2.0",
		})
	}
	simWriteDiscovery(w, map[string]any{"keys": keys})
}

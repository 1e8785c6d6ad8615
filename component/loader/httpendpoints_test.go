package loader

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a PEM certificate and key.
func selfSigned(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, NotBefore: time.Now(),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

func indent(s string) string {
	return "        " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n        ")
}

// TestHTTPEndpoints: HTTPEndpoint resources are read with the components,
// filtered by namespace and scopes, and resolved: header values and
// secretKeyRef entries (through auth.secretStore), client TLS from PEM
// values and secrets, renegotiation; one that does not resolve is reported
// and left out.
func TestHTTPEndpoints(t *testing.T) {
	cert, key := selfSigned(t)
	dir := t.TempDir()
	secrets := filepath.Join(t.TempDir(), "secrets.json")
	write(t, filepath.Dir(secrets), "secrets.json", `{"token":"s3cret","tlskey":`+strconv.Quote(key)+`}`)
	write(t, dir, "r.yaml", `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: files
spec:
  type: secretstores.local.file
  metadata:
  - name: secretsFile
    value: `+secrets+`
---
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: plain
spec:
  baseUrl: http://example.com/api
  headers:
  - name: x-one
    value: 1
  - name: Authorization
    secretKeyRef: {name: token, key: token}
  - name: x-env
    envRef: EP_TEST_ENV
  - name: x-denied
    envRef: DAPR_API_TOKEN
  - name: x-missing
    secretKeyRef: {name: nope, key: nope}
auth:
  secretStore: files
---
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: tls
spec:
  baseUrl: https://example.com
  clientTLS:
    rootCA:
      value: |
`+indent(cert)+`
    certificate:
      value: |
`+indent(cert)+`
    privateKey:
      secretKeyRef: {name: tlskey, key: tlskey}
    renegotiation: OnceAsClient
auth:
  secretStore: files
---
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: badreneg
spec:
  baseUrl: https://example.com
  clientTLS:
    renegotiation: Sometimes
---
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: nostore
spec:
  baseUrl: http://example.com
  headers:
  - name: x
    secretKeyRef: {name: a, key: b}
auth:
  secretStore: missing
---
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: nourl
spec: {}
---
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: scoped
spec:
  baseUrl: http://example.com
scopes: [otherapp]
---
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: elsewhere
  namespace: other-ns
spec:
  baseUrl: http://example.com
`)
	env := map[string]string{"EP_TEST_ENV": "from-env", "DAPR_API_TOKEN": "tok"}
	o := Options{Paths: []string{dir}, AppID: "me", Namespace: "ns", LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	res, err := LoadResources(o)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range res.HTTPEndpoints {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "plain,tls,badreneg,nostore,nourl" {
		t.Fatalf("loaded %v", names)
	}
	Resolve(o, res.Components)
	ok, failed, warnings := ResolveHTTPEndpoints(o, res.HTTPEndpoints, res.Components)
	if len(ok) != 3 || ok[0].Name != "plain" || ok[1].Name != "tls" || ok[2].Name != "nostore" {
		t.Fatalf("resolved %v, failed %v", ok, failed)
	}
	if h := ok[0].Headers; h.Get("X-One") != "1" || h.Get("Authorization") != "s3cret" || h.Get("X-Env") != "from-env" ||
		h.Get("X-Denied") != "" || h.Get("X-Missing") != "" || ok[0].BaseURL != "http://example.com/api" || ok[0].TLS != nil {
		t.Fatalf("plain: %+v", ok[0])
	}
	// Unreadable values are warnings; the endpoints are served with empty
	// values, as daprd does.
	wantWarn := []string{
		"http endpoint plain references an env variable that isn't allowed: DAPR_API_TOKEN",
		"secret nope/nope not found in secret store files",
		"http endpoint nostore references a secret store that isn't loaded: missing",
	}
	if strings.Join(warnings, "|") != strings.Join(wantWarn, "|") {
		t.Fatalf("warnings %q", warnings)
	}
	tc := ok[1].TLS
	if tc == nil || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.Renegotiation != tls.RenegotiateOnceAsClient || tc.MinVersion != tls.VersionTLS12 {
		t.Fatalf("tls: %+v", tc)
	}
	for name, want := range map[string]string{
		"badreneg": "invalid renegotiation value Sometimes for http endpoint badreneg",
		"nourl":    "http endpoint nourl has no baseUrl",
	} {
		if err := failed[name]; err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", name, err, want)
		}
	}
}

package testsrv

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
	"os"
	"path/filepath"
	"time"
)

// PKI is a throwaway certificate authority with one server certificate
// (for 127.0.0.1 and localhost) and one client certificate, all written as
// PEM files into a directory, for servers started with TLS.
type PKI struct {
	// CAFile, CertFile and KeyFile are the CA certificate and the server's
	// certificate and key.
	CAFile, CertFile, KeyFile string
	// CAPEM, ClientCertPEM and ClientKeyPEM are the CA certificate and a
	// client certificate and key signed by the CA, as PEM text (the form
	// component metadata such as clientCert/clientKey takes).
	CAPEM, ClientCertPEM, ClientKeyPEM string

	pool   *x509.CertPool
	client tls.Certificate
}

// NewPKI creates the CA and both certificates in dir.
func NewPKI(dir string) (*PKI, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "testsrv CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, server bool) (certPEM, keyPEM []byte, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if server {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
			tmpl.DNSNames = []string{"localhost"}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
	}
	srvCert, srvKey, err := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, true)
	if err != nil {
		return nil, err
	}
	cliCert, cliKey, err := leaf(3, "testsrv client", x509.ExtKeyUsageClientAuth, false)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p := &PKI{
		CAFile:        filepath.Join(dir, "ca.crt"),
		CertFile:      filepath.Join(dir, "server.crt"),
		KeyFile:       filepath.Join(dir, "server.key"),
		CAPEM:         string(caPEM),
		ClientCertPEM: string(cliCert),
		ClientKeyPEM:  string(cliKey),
		pool:          x509.NewCertPool(),
	}
	p.pool.AddCert(ca)
	if p.client, err = tls.X509KeyPair(cliCert, cliKey); err != nil {
		return nil, err
	}
	for path, data := range map[string][]byte{p.CAFile: caPEM, p.CertFile: srvCert, p.KeyFile: srvKey} {
		// 0600: PostgreSQL refuses a key readable by others.
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("cannot write %s: %w", path, err)
		}
	}
	return p, nil
}

// ClientConfig is a TLS client configuration that trusts the CA and
// presents the client certificate.
func (p *PKI) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}, MinVersion: tls.VersionTLS12}
}

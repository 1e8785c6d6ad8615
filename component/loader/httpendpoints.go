package loader

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"slices"

	"gopkg.in/yaml.v3"
)

// HTTPEndpoint is one HTTPEndpoint resource (dapr.io/v1alpha1), resolved:
// the target of service invocation by name (api.HTTPEndpoint).
type HTTPEndpoint struct {
	Name, Namespace string
	BaseURL         string
	// Headers are spec.headers with their values (value, or secretKeyRef
	// through auth.secretStore).
	Headers http.Header
	// TLS is spec.clientTLS (rootCA, certificate and privateKey, and
	// renegotiation); nil when absent.
	TLS  *tls.Config
	File string

	doc httpEndpointYAML
}

type httpEndpointYAML struct {
	Spec struct {
		BaseURL   string      `yaml:"baseUrl"`
		Headers   []metaEntry `yaml:"headers"`
		ClientTLS *struct {
			RootCA        *valueRef `yaml:"rootCA"`
			Certificate   *valueRef `yaml:"certificate"`
			PrivateKey    *valueRef `yaml:"privateKey"`
			Renegotiation *string   `yaml:"renegotiation"`
		} `yaml:"clientTLS"`
	} `yaml:"spec"`
	Auth struct {
		SecretStore string `yaml:"secretStore"`
	} `yaml:"auth"`
	Scopes []string `yaml:"scopes"`
}

func decodeHTTPEndpoints(path string, data []byte) ([]*HTTPEndpoint, error) {
	var out []*HTTPEndpoint
	err := eachDoc(data, func(doc []byte, tm *typeMeta) error {
		if tm.APIVersion != "dapr.io/v1alpha1" || tm.Kind != "HTTPEndpoint" {
			return nil
		}
		e := &HTTPEndpoint{Name: tm.Metadata.Name, Namespace: tm.Metadata.Namespace, File: path}
		if err := yaml.Unmarshal(doc, &e.doc); err != nil {
			return err
		}
		e.BaseURL = e.doc.Spec.BaseURL
		out = append(out, e)
		return nil
	})
	return out, err
}

// keepHTTPEndpoint applies the namespace and scopes, as for components.
func keepHTTPEndpoint(o *Options, e *HTTPEndpoint) bool {
	if o.Namespace != "" && e.Namespace != "" && e.Namespace != o.Namespace {
		return false
	}
	return len(e.doc.Scopes) == 0 || slices.Contains(e.doc.Scopes, o.AppID)
}

// ResolveHTTPEndpoints resolves the headers and client TLS of endpoints:
// values, envRef entries (as for components), and secretKeyRef entries
// through the secret store of auth.secretStore among comps (opened by
// Resolve). A secret that cannot be read leaves its value empty, with a
// warning, and the endpoint is served, as daprd does. An endpoint without
// a baseUrl or whose TLS settings do not parse is returned in failed with
// the reason and not served.
func ResolveHTTPEndpoints(o Options, endpoints []*HTTPEndpoint, comps []*Component) (ok []*HTTPEndpoint, failed map[string]error, warnings []string) {
	for _, e := range endpoints {
		warn := func(err error) { warnings = append(warnings, err.Error()) }
		if err := resolveHTTPEndpoint(&o, e, comps, warn); err != nil {
			if failed == nil {
				failed = map[string]error{}
			}
			failed[e.Name] = err
			continue
		}
		ok = append(ok, e)
	}
	return ok, failed, warnings
}

func resolveHTTPEndpoint(o *Options, e *HTTPEndpoint, comps []*Component, warn func(error)) error {
	if e.BaseURL == "" {
		return fmt.Errorf("http endpoint %s has no baseUrl", e.Name)
	}
	// A value that cannot be read is empty, with a warning, as in daprd.
	get := func(v *valueRef) string {
		switch {
		case v.EnvRef != "":
			if !envAllowed(o, v.EnvRef) {
				warn(fmt.Errorf("http endpoint %s references an env variable that isn't allowed: %s", e.Name, v.EnvRef))
				return ""
			}
			val, _ := o.lookup(v.EnvRef)
			return val
		case v.SecretKeyRef.Name == "":
			return nodeString(&v.Value)
		}
		for _, c := range comps {
			if c.Name == e.doc.Auth.SecretStore && c.secrets != nil {
				val, err := secretValue(c.secrets, c.Name, v.SecretKeyRef.Name, v.SecretKeyRef.Key, e.Namespace)
				if err != nil {
					warn(err)
				}
				return val
			}
		}
		warn(fmt.Errorf("http endpoint %s references a secret store that isn't loaded: %s", e.Name, e.doc.Auth.SecretStore))
		return ""
	}
	e.Headers = http.Header{}
	for _, h := range e.doc.Spec.Headers {
		e.Headers.Set(h.Name, get(&h.valueRef))
	}
	t := e.doc.Spec.ClientTLS
	if t == nil {
		return nil
	}
	var cfg *tls.Config
	if t.RootCA != nil {
		if ca := get(t.RootCA); ca != "" {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(ca)) {
				return fmt.Errorf("failed to add root cert to cert pool for http endpoint %s", e.Name)
			}
			cfg = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
		}
	}
	if t.PrivateKey != nil && t.Certificate != nil {
		if certPEM, keyPEM := get(t.Certificate), get(t.PrivateKey); keyPEM != "" {
			cert, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
			if err != nil {
				return fmt.Errorf("failed to load client certificate for http endpoint %s: %w", e.Name, err)
			}
			if cfg == nil {
				cfg = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
	}
	if t.Renegotiation != nil {
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		switch *t.Renegotiation {
		case "Never":
			cfg.Renegotiation = tls.RenegotiateNever
		case "OnceAsClient":
			cfg.Renegotiation = tls.RenegotiateOnceAsClient
		case "FreelyAsClient":
			cfg.Renegotiation = tls.RenegotiateFreelyAsClient
		default:
			return fmt.Errorf("invalid renegotiation value %s for http endpoint %s", *t.Renegotiation, e.Name)
		}
	}
	e.TLS = cfg
	return nil
}

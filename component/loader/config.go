package loader

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Configuration is the part of daprd's Configuration resource statecar
// honours (runtime-http.md §7.4). Files are applied in order on top of the
// defaults, as daprd does: a field present in a later file overrides.
type Configuration struct {
	Spec ConfigurationSpec `yaml:"spec"`
}

// ConfigurationSpec is Configuration.spec.
type ConfigurationSpec struct {
	Metrics  MetricsSpec `yaml:"metrics"`
	Metric   MetricsSpec `yaml:"metric"` // accepted alias of metrics
	Features []Feature   `yaml:"features"`
	API      APISpec     `yaml:"api"`
	Secrets  struct {
		Scopes []SecretsScope `yaml:"scopes"`
	} `yaml:"secrets"`
	Logging struct {
		APILogging struct {
			Enabled          bool `yaml:"enabled"`
			ObfuscateURLs    bool `yaml:"obfuscateURLs"`
			OmitHealthChecks bool `yaml:"omitHealthChecks"`
		} `yaml:"apiLogging"`
	} `yaml:"logging"`
}

// MetricsSpec is spec.metrics.
type MetricsSpec struct {
	Enabled                    *bool     `yaml:"enabled"`
	RecordErrorCodes           bool      `yaml:"recordErrorCodes"`
	LatencyDistributionBuckets []float64 `yaml:"latencyDistributionBuckets"`
	HTTP                       struct {
		IncreasedCardinality *bool    `yaml:"increasedCardinality"`
		PathMatching         []string `yaml:"pathMatching"`
		ExcludeVerbs         bool     `yaml:"excludeVerbs"`
	} `yaml:"http"`
}

// SecretsScope is one entry of spec.secrets.scopes: which secrets of store
// StoreName the Secrets API may return.
type SecretsScope struct {
	StoreName      string   `yaml:"storeName"`
	DefaultAccess  string   `yaml:"defaultAccess"` // "allow" (default) or "deny", case-insensitive
	AllowedSecrets []string `yaml:"allowedSecrets"`
	DeniedSecrets  []string `yaml:"deniedSecrets"`
}

// IsSecretAllowed is daprd's rule: a non-empty allowedSecrets list admits
// exactly its names; otherwise a name in deniedSecrets is refused, and any
// other name follows defaultAccess.
func (s *SecretsScope) IsSecretAllowed(name string) bool {
	if len(s.AllowedSecrets) != 0 {
		return slices.Contains(s.AllowedSecrets, name)
	}
	if slices.Contains(s.DeniedSecrets, name) {
		return false
	}
	return !strings.EqualFold(s.DefaultAccess, "deny")
}

// SecretsScopes returns spec.secrets.scopes by store name.
func (c *Configuration) SecretsScopes() map[string]*SecretsScope {
	out := make(map[string]*SecretsScope, len(c.Spec.Secrets.Scopes))
	for i := range c.Spec.Secrets.Scopes {
		sc := &c.Spec.Secrets.Scopes[i]
		out[sc.StoreName] = sc
	}
	return out
}

// validateSecrets is daprd's sortAndValidateSecretsConfiguration check:
// each store at most once, defaultAccess allow, deny or empty.
func (c *Configuration) validateSecrets() error {
	seen := map[string]bool{}
	for _, sc := range c.Spec.Secrets.Scopes {
		if seen[sc.StoreName] {
			return fmt.Errorf("%s storeName is repeated in secrets configuration", sc.StoreName)
		}
		if sc.DefaultAccess != "" && !strings.EqualFold(sc.DefaultAccess, "allow") && !strings.EqualFold(sc.DefaultAccess, "deny") {
			return fmt.Errorf("defaultAccess %s can be either allow or deny", sc.DefaultAccess)
		}
		seen[sc.StoreName] = true
	}
	return nil
}

// Feature is one entry of spec.features.
type Feature struct {
	Name    string `yaml:"name"`
	Enabled bool   `yaml:"enabled"`
}

// APISpec is spec.api.
type APISpec struct {
	Allowed []APIRule `yaml:"allowed"`
	Denied  []APIRule `yaml:"denied"`
}

// APIRule names an API group: name (state, metadata, shutdown, ...),
// version (v1, v1alpha1, ...) and protocol (http, grpc; empty = both).
type APIRule struct {
	Name     string `yaml:"name"`
	Version  string `yaml:"version"`
	Protocol string `yaml:"protocol"`
}

// DefaultFeatures are the features daprd enables when no Configuration
// names them (runtime-http.md §3.1: ["SchedulerReminders"]).
var DefaultFeatures = []string{"SchedulerReminders"}

// LoadConfiguration reads the Configuration files in order (environment
// variables expanded, as daprd). A missing file is an error whose text is
// daprd's ("error loading configuration: stat x: no such file or
// directory").
func LoadConfiguration(paths []string) (*Configuration, error) {
	c := &Configuration{}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("error loading configuration: %s", err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("error loading configuration: %s", err)
		}
		b = []byte(os.ExpandEnv(string(b)))
		if err := yaml.Unmarshal(b, c); err != nil {
			return nil, fmt.Errorf("error loading configuration: %s", err)
		}
	}
	if err := c.validateSecrets(); err != nil {
		return nil, fmt.Errorf("error loading configuration: %s", err)
	}
	return c, nil
}

// MetricsSpec returns spec.metrics, or spec.metric when only that is given.
func (c *Configuration) MetricsSpec() MetricsSpec {
	m := c.Spec.Metrics
	alt := c.Spec.Metric
	if m.Enabled == nil {
		m.Enabled = alt.Enabled
	}
	m.RecordErrorCodes = m.RecordErrorCodes || alt.RecordErrorCodes
	if len(m.LatencyDistributionBuckets) == 0 {
		m.LatencyDistributionBuckets = alt.LatencyDistributionBuckets
	}
	if m.HTTP.IncreasedCardinality == nil {
		m.HTTP.IncreasedCardinality = alt.HTTP.IncreasedCardinality
	}
	if len(m.HTTP.PathMatching) == 0 {
		m.HTTP.PathMatching = alt.HTTP.PathMatching
	}
	m.HTTP.ExcludeVerbs = m.HTTP.ExcludeVerbs || alt.HTTP.ExcludeVerbs
	return m
}

// EnabledFeatures lists the enabled features: those of the files in order,
// then the defaults the files do not mention.
func (c *Configuration) EnabledFeatures() []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range c.Spec.Features {
		seen[f.Name] = true
		if f.Enabled {
			out = append(out, f.Name)
		}
	}
	for _, f := range DefaultFeatures {
		if !seen[f] {
			out = append(out, f)
		}
	}
	return out
}

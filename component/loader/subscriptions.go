package loader

import "gopkg.in/yaml.v3"

// SubscriptionRule is one routing rule of a Subscription resource.
type SubscriptionRule struct {
	Match string
	Path  string
}

// SubscriptionDoc is one declarative Subscription resource (apiVersion
// dapr.io/v1alpha1 with spec.route, or dapr.io/v2alpha1 with spec.routes),
// in daprd's v2alpha1 form: a v1alpha1 route becomes the default route.
type SubscriptionDoc struct {
	Name, Namespace string
	PubsubName      string
	Topic           string
	DeadLetterTopic string
	Metadata        map[string]string
	Rules           []SubscriptionRule
	// Default is the route of events no rule matched ("" = none).
	Default     string
	BulkEnabled bool
	Scopes      []string
	File        string
}

type subscriptionYAML struct {
	Spec struct {
		Pubsubname      string               `yaml:"pubsubname"`
		Topic           string               `yaml:"topic"`
		Route           string               `yaml:"route"`
		DeadLetterTopic string               `yaml:"deadLetterTopic"`
		Metadata        map[string]yaml.Node `yaml:"metadata"`
		Routes          struct {
			Rules []struct {
				Match string `yaml:"match"`
				Path  string `yaml:"path"`
			} `yaml:"rules"`
			Default string `yaml:"default"`
		} `yaml:"routes"`
		BulkSubscribe struct {
			Enabled bool `yaml:"enabled"`
		} `yaml:"bulkSubscribe"`
	} `yaml:"spec"`
	Scopes []string `yaml:"scopes"`
}

// LoadSubscriptions reads the Subscription resources of the folders (the
// same folders as the components), in file order, keeping those of the
// namespace. Scopes are left to the caller. A document that does not parse
// is skipped with a warning, as daprd skips it. LoadResources reads
// components and subscriptions in one pass.
func LoadSubscriptions(o Options) ([]SubscriptionDoc, error) {
	res, err := LoadResources(o)
	if err != nil {
		return nil, err
	}
	return res.Subscriptions, nil
}

func decodeSubscriptions(path string, data []byte) ([]SubscriptionDoc, error) {
	var out []SubscriptionDoc
	err := eachDoc(data, func(doc []byte, tm *typeMeta) error {
		if tm.Kind != "Subscription" || (tm.APIVersion != "dapr.io/v1alpha1" && tm.APIVersion != "dapr.io/v2alpha1") {
			return nil
		}
		var sy subscriptionYAML
		if err := yaml.Unmarshal(doc, &sy); err != nil {
			return err
		}
		d := SubscriptionDoc{Name: tm.Metadata.Name, Namespace: tm.Metadata.Namespace, PubsubName: sy.Spec.Pubsubname,
			Topic: sy.Spec.Topic, DeadLetterTopic: sy.Spec.DeadLetterTopic, BulkEnabled: sy.Spec.BulkSubscribe.Enabled,
			Scopes: sy.Scopes, File: path}
		if len(sy.Spec.Metadata) > 0 {
			d.Metadata = make(map[string]string, len(sy.Spec.Metadata))
			for k, v := range sy.Spec.Metadata {
				d.Metadata[k] = nodeString(&v)
			}
		}
		if tm.APIVersion == "dapr.io/v1alpha1" {
			d.Default = sy.Spec.Route
		} else {
			for _, r := range sy.Spec.Routes.Rules {
				d.Rules = append(d.Rules, SubscriptionRule{Match: r.Match, Path: r.Path})
			}
			d.Default = sy.Spec.Routes.Default
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

package lockstore

import "testing"

func TestKey(t *testing.T) {
	for _, c := range []struct {
		meta              map[string]string
		resource, appID   string
		want, wantErr     string
		strategyErrSubstr string
	}{
		{meta: nil, resource: "r", appID: "app", want: "lock||app||r"},
		{meta: nil, resource: "r", appID: "", want: "lock||r"},
		{meta: map[string]string{"keyPrefix": "none"}, resource: "r", appID: "app", want: "lock||r"},
		{meta: map[string]string{"KEYPREFIX": "Name"}, resource: "r", appID: "app", want: "lock||mystore||r"},
		{meta: map[string]string{"keyprefix": "AppID"}, resource: "r", appID: "app", want: "lock||app||r"},
		{meta: map[string]string{"keyPrefix": "Fixed"}, resource: "r", appID: "app", want: "lock||fixed||r"},
		{meta: map[string]string{"keyPrefix": ""}, resource: "r", appID: "app", want: "lock||||r"},
		{meta: nil, resource: "a||b", appID: "app", wantErr: "input key/keyPrefix 'a||b' can't contain '||'"},
		{meta: map[string]string{"keyPrefix": "x||y"}, strategyErrSubstr: "failed to save lock keyprefix: input key/keyPrefix 'x||y' can't contain '||'"},
	} {
		strategy, err := KeyPrefix(c.meta)
		if c.strategyErrSubstr != "" {
			if err == nil || err.Error() != c.strategyErrSubstr {
				t.Errorf("KeyPrefix(%v) = %v, want error %q", c.meta, err, c.strategyErrSubstr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("KeyPrefix(%v): %v", c.meta, err)
		}
		got, err := Key(strategy, c.resource, "mystore", c.appID)
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("Key(%v, %q) = %q, %v; want error %q", c.meta, c.resource, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Key(%v, %q, app %q) = %q, %v; want %q", c.meta, c.resource, c.appID, got, err, c.want)
		}
	}
}

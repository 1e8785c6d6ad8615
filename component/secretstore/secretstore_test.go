package secretstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func env(vars map[string]string) Options {
	return Options{
		Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Environ: func() []string {
			var out []string
			for k, v := range vars {
				out = append(out, k+"="+v)
			}
			return out
		},
	}
}

func TestEnv(t *testing.T) {
	ctx := context.Background()
	vars := map[string]string{"MY_VAR": "hello", "APP_API_TOKEN": "t", "DAPR_API_TOKEN": "t", "dapr_x": "t", "EQ": "a=b", "EMPTY": ""}
	s, err := Open("SecretStores.Local.Env", "v1", nil, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"MY_VAR": "hello", "NOPE": "", "APP_API_TOKEN": "", "DAPR_API_TOKEN": "", "dapr_x": "", "EQ": "a=b"} {
		got, err := s.Get(ctx, name, nil)
		if err != nil || !reflect.DeepEqual(got, map[string]string{name: want}) {
			t.Errorf("Get(%s) = %v, %v; want {%s:%q}", name, got, err, name, want)
		}
	}
	bulk, _ := s.BulkGet(ctx, nil)
	want := map[string]map[string]string{"MY_VAR": {"MY_VAR": "hello"}, "EQ": {"EQ": "a=b"}, "EMPTY": {"EMPTY": ""}}
	if !reflect.DeepEqual(bulk, want) {
		t.Errorf("BulkGet = %v, want %v", bulk, want)
	}
	if s.Features() != nil {
		t.Errorf("Features = %v", s.Features())
	}

	// With a prefix: names are read with it and listed without it; the
	// hidden names are checked with the prefix in place.
	vars = map[string]string{"APP_ONE": "1", "APP_": "short", "OTHER": "x", "APP_DAPR_X": "y"}
	s, _ = Open("secretstores.local.env", "", map[string]string{"PREFIX": "APP_"}, env(vars))
	if got, _ := s.Get(ctx, "ONE", nil); got["ONE"] != "1" {
		t.Errorf("prefixed Get(ONE) = %v", got)
	}
	if got, _ := s.Get(ctx, "OTHER", nil); got["OTHER"] != "" {
		t.Errorf("prefixed Get(OTHER) = %v, want empty", got)
	}
	bulk, _ = s.BulkGet(ctx, nil)
	want = map[string]map[string]string{"ONE": {"ONE": "1"}, "DAPR_X": {"DAPR_X": "y"}}
	if !reflect.DeepEqual(bulk, want) {
		t.Errorf("prefixed BulkGet = %v, want %v", bulk, want)
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secrets.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const nested = `{"redisPassword":"pw","db":{"user":"u","port":5432,"tls":true,"none":null,"hosts":["a","b"]},"n":1.50}`

func TestFileSingleValued(t *testing.T) {
	ctx := context.Background()
	p := writeFile(t, nested)
	s, err := Open("secretstores.local.file", "v1", map[string]string{"secretsFile": p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"redisPassword": "pw", "db:user": "u", "db:port": "5432", "db:tls": "true", "db:none": "", "db:hosts:1": "b", "n": "1.50"} {
		got, err := s.Get(ctx, name, nil)
		if err != nil || !reflect.DeepEqual(got, map[string]string{name: want}) {
			t.Errorf("Get(%s) = %v, %v; want {%s:%q}", name, got, err, name, want)
		}
	}
	if _, err := s.Get(ctx, "db", nil); err == nil || err.Error() != "secret db not found" {
		t.Errorf("Get(db) err = %v, want secret db not found", err)
	}
	bulk, _ := s.BulkGet(ctx, nil)
	if len(bulk) != 8 || !reflect.DeepEqual(bulk["db:hosts:0"], map[string]string{"db:hosts:0": "a"}) {
		t.Errorf("BulkGet = %v", bulk)
	}

	s, _ = Open("secretstores.local.file", "v1", map[string]string{"secretsFile": p, "nestedSeparator": "."}, Options{})
	if got, err := s.Get(ctx, "db.user", nil); err != nil || got["db.user"] != "u" {
		t.Errorf("separator '.': Get(db.user) = %v, %v", got, err)
	}
}

func TestFileMultiValued(t *testing.T) {
	ctx := context.Background()
	p := writeFile(t, nested)
	s, err := Open("secretstores.local.file", "v1", map[string]string{"secretsFile": p, "multiValued": "true"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "db", nil)
	want := map[string]string{"user": "u", "port": "5432", "tls": "true", "none": "", "hosts:0": "a", "hosts:1": "b"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Get(db) = %v, %v; want %v", got, err, want)
	}
	got["user"] = "changed" // the caller's copy
	if again, _ := s.Get(ctx, "db", nil); again["user"] != "u" {
		t.Error("Get returned the store's own map")
	}
	if got, _ := s.Get(ctx, "redisPassword", nil); !reflect.DeepEqual(got, map[string]string{"redisPassword": "pw"}) {
		t.Errorf("Get(redisPassword) = %v", got)
	}
	if _, err := s.Get(ctx, "n", nil); err == nil {
		t.Error("a top-level number is not a secret with multiValued")
	}
	bulk, _ := s.BulkGet(ctx, nil)
	if len(bulk) != 2 || !reflect.DeepEqual(bulk["db"], want) {
		t.Errorf("BulkGet = %v", bulk)
	}
	if f := s.Features(); !reflect.DeepEqual(f, []string{FeatureMultipleKeyValuesPerSecret}) {
		t.Errorf("Features = %v", f)
	}
}

func TestFileCollisionsAreDeterministic(t *testing.T) {
	p := writeFile(t, `{"a:b":"flat","a":{"b":"nested"}}`)
	for range 20 {
		s, err := Open("secretstores.local.file", "", map[string]string{"secretsFile": p}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(context.Background(), "a:b", nil)
		if got["a:b"] != "nested" { // "a" sorts before "a:b"
			t.Fatalf("Get(a:b) = %v, want the first in sorted order", got)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	bad := writeFile(t, `{"a":`)
	for _, c := range []struct {
		typ  string
		meta map[string]string
		want string
	}{
		{"secretstores.local.file", nil, "missing local secrets file in metadata"},
		{"secretstores.local.file", map[string]string{"secretsFile": "/nonexistent/s.json"}, "open /nonexistent/s.json: no such file or directory"},
		{"secretstores.local.file", map[string]string{"secretsFile": bad}, "unexpected EOF"},
		{"secretstores.local.file", map[string]string{"secretsFile": bad, "multiValued": "maybe"}, `invalid value "maybe" for multiValued: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{"secretstores.hashicorp.vault", nil, "couldn't find secret store secretstores.hashicorp.vault/v1"},
	} {
		_, err := Open(c.typ, "v1", c.meta, Options{})
		if err == nil || err.Error() != c.want {
			t.Errorf("Open(%s, %v) err = %v, want %q", c.typ, c.meta, err, c.want)
		}
	}
	if _, err := Open("secretstores.x", "v1", nil, Options{}); !errors.Is(err, ErrUnknownType) {
		t.Errorf("unknown type: %v is not ErrUnknownType", err)
	}
}

package main

import (
	"strings"
	"testing"
)

func TestParseFlagForms(t *testing.T) {
	fs, err := parseFlags([]string{
		"--app-id", "myapp", "--dapr-http-port=3600", "-dapr-grpc-port", "50002",
		"--enable-profiling", "--enable-metrics=false", "-log-as-json",
		"--resources-path", "a,b", "--resources-path=c", "--config", "x.yaml",
		"--app-port", "-1", "--profile-port", "-1", "--placement-host-address", "",
		"--scheduler-host-address", "", "--app-max-concurrency", "-1", "--mode=standalone",
		"--enable-mtls=false", "--log-level=debug", "--max-body-size", "4Mi", "--read-buffer-size", "4Ki",
		"--app-health-probe-interval", "0", "--app-health-threshold", "0", "positional",
	})
	if err != nil {
		t.Fatal(err)
	}
	f := func(name, want string) {
		t.Helper()
		if got := fs.String(name); got != want {
			t.Fatalf("--%s = %q, want %q", name, got, want)
		}
	}
	f("app-id", "myapp")
	f("dapr-http-port", "3600")
	f("dapr-grpc-port", "50002")
	f("app-port", "-1")
	f("profile-port", "-1")
	f("metrics-port", "9090") // default
	f("max-body-size", "4Mi")
	f("log-level", "debug")
	if !fs.Bool("enable-profiling") || fs.Bool("enable-metrics") || !fs.Bool("log-as-json") {
		t.Fatal("booleans parsed wrong")
	}
	if got := strings.Join(fs.Slice("resources-path"), "|"); got != "a|b|c" {
		t.Fatalf("resources-path = %q", got)
	}
	if got := fs.Slice("scheduler-host-address"); len(got) != 0 {
		t.Fatalf("empty slice flag = %q", got)
	}
	if fs.Int("app-max-concurrency") != -1 || !fs.Changed("app-max-concurrency") || fs.Changed("wait") {
		t.Fatal("int/changed tracking wrong")
	}
}

func TestParseFlagErrors(t *testing.T) {
	f := func(args []string, want string) {
		t.Helper()
		_, err := parseFlags(args)
		if err == nil || err.Error() != want {
			t.Fatalf("parseFlags(%q) error = %v, want %q", args, err, want)
		}
	}
	f([]string{"--no-such-flag"}, "unknown flag: --no-such-flag")
	f([]string{"--app-max-concurrency", "abc"}, `invalid argument "abc" for "--app-max-concurrency" flag: strconv.ParseInt: parsing "abc": invalid syntax`)
	f([]string{"--enable-metrics=maybe"}, `invalid argument "maybe" for "--enable-metrics" flag: strconv.ParseBool: parsing "maybe": invalid syntax`)
	f([]string{"--app-id"}, "flag needs an argument: --app-id")
}

func TestDefaultDataDir(t *testing.T) {
	t.Setenv("STATECAR_DATA_DIR", "")
	t.Setenv("HOME", "/h")
	if got := defaultDataDir("a"); got != "/h/.statecar/data/a" {
		t.Fatalf("with HOME: %q", got)
	}
	t.Setenv("HOME", "")
	if got := defaultDataDir("a"); got != ".statecar/data/a" {
		t.Fatalf("without HOME: %q", got)
	}
	t.Setenv("STATECAR_DATA_DIR", "/d")
	if got := defaultDataDir("a"); got != "/d" {
		t.Fatalf("env: %q", got)
	}
}

package bench

import (
	"os"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	// comm with a space and a ')' inside; utime=250, stime=50 ticks.
	line := "1234 (my (odd) proc) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 4 0 100 1000000 300 18446744073709551615\n"
	got, err := parseStatCPU([]byte(line))
	if err != nil || got != 3.0 {
		t.Fatalf("parseStatCPU = %v, %v; want 3s", got, err)
	}
	if _, err := parseStatCPU([]byte("1234 (x) S 1 2")); err == nil {
		t.Fatal("short stat line accepted")
	}
}

func TestParseVmHWM(t *testing.T) {
	status := "Name:\tx\nVmPeak:\t  2000 kB\nVmHWM:\t    1536 kB\nVmRSS:\t 1000 kB\n"
	got, err := parseVmHWM([]byte(status))
	if err != nil || got != 1536<<10 {
		t.Fatalf("parseVmHWM = %v, %v", got, err)
	}
	if _, err := parseVmHWM([]byte("Name:\tx\n")); err == nil {
		t.Fatal("missing VmHWM accepted")
	}
}

func TestOwnProcessStats(t *testing.T) {
	rss, err := PeakRSS(os.Getpid())
	if err != nil || rss <= 0 {
		t.Fatalf("PeakRSS = %d, %v", rss, err)
	}
	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

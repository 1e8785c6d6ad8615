# bench/lib.sh — helpers shared by bench/issue*.sh (sourced, not run).

# freeport prints a free TCP port on loopback.
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# cpu_ticks PID prints utime+stime of a process in clock ticks (tck per second).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

# statecar_bin DIR prints $STATECAR_BIN, or builds ./cmd/statecar into DIR and prints that.
statecar_bin() {
	if [ -n "${STATECAR_BIN:-}" ]; then echo "$STATECAR_BIN"; return; fi
	go build -o "$1/statecar" ./cmd/statecar && echo "$1/statecar"
}

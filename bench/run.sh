#!/usr/bin/env bash
# Runs every benchmark scenario (BENCHMARKS.md) against Switchboard and its peers in one go, on loopback, and
# writes Markdown tables with Switchboard/peer ratios measured in this same run.
#
#   bash bench/run.sh            # the sizes of BENCHMARKS.md: a few minutes on 2 cores
#   QUICK=1 bash bench/run.sh    # tiny sizes, to check the whole pipeline in well under a minute
#
# Results: target/bench/results.jsonl (raw) and target/bench/tables.md (what BENCHMARKS.md shows).
# Every server is started fresh for each scenario (memory figures must not inherit an earlier phase's heap),
# pinned with taskset to CPU 0; the load generator runs on CPU 1. Needs: cargo, python3, node/npm, apt-get (for
# ngircd, if missing), taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/target/bench}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
TABLES=$OUT/tables.md
rm -f "$RESULTS"
SCRATCH=$(mktemp -d)
chmod 755 "$SCRATCH" # ngircd drops to user nobody after start
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- peers and builds
if ! command -v ngircd >/dev/null; then
    say "installing ngircd (Debian)"
    apt-get install -y ngircd >/dev/null || { apt-get update >/dev/null && apt-get install -y ngircd >/dev/null; }
fi
say "installing the Node ws peer (bench/peers, npm ci)"
(cd bench/peers && npm ci --no-audit --no-fund --silent)
say "building release binaries"
cargo build --release -p core-server -p web-gateway -p bench
BIN=$ROOT/target/release

# Every client is a socket on each side: lift the soft fd limit for us and the servers we start.
ulimit -n "$(ulimit -Hn)"

if [ "$(nproc)" -ge 2 ]; then SERVER_CPU=0; LOAD_CPU=1; else SERVER_CPU=0; LOAD_CPU=0; fi
# An array, not a function: `cmd &` on a function would fork a subshell, and $! would not be the server.
PIN=(taskset -c "$SERVER_CPU")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() { # port: wait until something accepts on it (at most 10 s)
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

stop_all() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}

# Each start_* sets TARGET (the bench target arguments) and adds its pids to PIDS.
CORE_LIMITS=(--rate-per-sec 1000000 --rate-burst 1000000 --max-connections 20000)
start_core() {
    local port; port=$(free_port)
    "${PIN[@]}" "$BIN/core-server" --listen "127.0.0.1:$port" "${CORE_LIMITS[@]}" 2>>"$OUT/core.log" &
    PIDS+=($!)
    wait_port "$port"
    TARGET=(native --addr "127.0.0.1:$port" --pid "${PIDS[-1]}")
}

start_gateway() {
    local cport hport token=bench-token-$RANDOM$RANDOM
    cport=$(free_port)
    "${PIN[@]}" "$BIN/core-server" --listen "127.0.0.1:$cport" "${CORE_LIMITS[@]}" --gateway-token "$token" \
        2>>"$OUT/core.log" &
    PIDS+=($!)
    local core_pid=$!
    wait_port "$cport"
    hport=$(free_port)
    mkdir -p "$SCRATCH/spool"
    "${PIN[@]}" "$BIN/web-gateway" --http "127.0.0.1:$hport" --core "127.0.0.1:$cport" --gateway-token "$token" \
        --ws-rate 1000000 --ws-burst 1000000 --max-sessions 20000 --spool-dir "$SCRATCH/spool" \
        >>"$OUT/gateway.log" 2>&1 &
    PIDS+=($!)
    wait_port "$hport"
    TARGET=(gateway --url "http://127.0.0.1:$hport" --core "127.0.0.1:$cport" --pid "${PIDS[-1]}" --pid "$core_pid")
}

start_ngircd() {
    local port; port=$(free_port)
    mkdir -p "$SCRATCH/ngircd.d"
    # Limits off, as NOTES.md says: no flood penalties, no connection caps, no DNS/ident/PAM lookups.
    cat >"$SCRATCH/ngircd.conf" <<EOF
[Global]
Name = bench.switchboard.local
Info = Switchboard benchmark peer
Listen = 127.0.0.1
Ports = $port
MotdPhrase = bench
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 30
MaxPenaltyTime = 0
PingTimeout = 120
PongTimeout = 60
[Options]
DNS = no
Ident = no
PAM = no
IncludeDir = $SCRATCH/ngircd.d
EOF
    "${PIN[@]}" ngircd -n -f "$SCRATCH/ngircd.conf" >>"$OUT/ngircd.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port"
    TARGET=(irc --addr "127.0.0.1:$port" --pid "${PIDS[-1]}")
}

start_node() {
    local port; port=$(free_port)
    PORT=$port "${PIN[@]}" node bench/peers/ws-server.js >>"$OUT/node.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port"
    TARGET=(ws-peer --url "ws://127.0.0.1:$port/" --pid "${PIDS[-1]}")
}

bench() { # scenario [options…] — runs against $TARGET, pinned to the load CPU
    local scenario=$1; shift
    say "$scenario $* ${TARGET[0]}"
    taskset -c "$LOAD_CPU" "$BIN/bench" --json-out "$RESULTS" "$scenario" "$@" "${TARGET[@]}" >/dev/null
}

each() { # systems… -- scenario [options…]: a fresh server of each system for the scenario
    local systems=()
    while [ "$1" != "--" ]; do systems+=("$1"); shift; done
    shift
    for system in "${systems[@]}"; do
        "start_$system"
        bench "$@"
        stop_all
    done
}

# ---------------------------------------------------------------- sizes
if [ -n "${QUICK:-}" ]; then
    BROADCAST_N=20,100; BROADCAST_N_IRC=20,100; FANOUT_N=50; FANOUT_RATES=50,200,800; PAIRS=20
    IDLE_N=100; FILE_MIB=8; GATEWAY_N=50; SECS=1; STEP=1
else
    # ngircd's JOIN handling is quadratic in the channel size: 5 000 users took ~15 min to join here, so the
    # IRC peer runs the room sizes up to 1 000 (BENCHMARKS.md says so next to the table).
    BROADCAST_N=100,1000,5000; BROADCAST_N_IRC=100,1000; FANOUT_N=1000
    FANOUT_RATES=50,100,200,400,800,1600,3200; PAIRS=500; IDLE_N=1000; FILE_MIB=100; GATEWAY_N=500
    SECS=5; STEP=3
fi

# ---------------------------------------------------------------- scenarios
# Other work on the machine competes with both sides; the tables say how busy it was.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
SECONDS=0
each core gateway node -- broadcast --clients "$BROADCAST_N" --duration "${SECS}s"
each ngircd -- broadcast --clients "$BROADCAST_N_IRC" --duration "${SECS}s"
each core ngircd gateway node -- fanout --clients "$FANOUT_N" --rates "$FANOUT_RATES" --step "${STEP}s"
each core ngircd gateway node -- private --pairs "$PAIRS" --duration "${SECS}s"
each core ngircd gateway node -- idle --clients "$IDLE_N"
each core gateway -- files --size-mib "$FILE_MIB"
each gateway -- gateway --clients "$GATEWAY_N" --duration "${SECS}s"

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo "Machine: $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p')), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM,"
    echo "Linux $(uname -r). Servers pinned to CPU $SERVER_CPU, load generator to CPU $LOAD_CPU."
    echo "Load average (1/5/15 min) at start: $LOAD_BEFORE; at end: $LOAD_AFTER. Run took $((SECONDS / 60)) min $((SECONDS % 60)) s."
    echo
    "$BIN/bench" report "$RESULTS"
} >"$TABLES"
say "tables written to $TABLES"

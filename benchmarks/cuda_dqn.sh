#!/usr/bin/env bash
# Issue 15's GPU checks as one command for a lent GPU (carry .whl, and .pong to resume a Pong run):
#
#     OUT=DIR bash benchmarks/cuda_dqn.sh [SECONDS]     (default 570; DEVICE=cpu tries it on a CPU)
#
# first the GPU rows of benchmarks/dqn_speed.py (at most 150 s; DIR/dqn_speed.cuda.json, which
# includes PQN's Atari update eager and as a CUDA graph), then Atari Pong with PQN
# (benchmarks/cuda_pong.sh) in what is left: with --cuda-graphs where the graphed update measured
# faster than the eager one, its training capped so that the final evaluation fits.
set -u
budget=${1:-570}
device=${DEVICE:-cuda}
start=$(date +%s)
out=${OUT:-runs}
mkdir -p "$out"
if ! python3 -c "import ale_py, gymnasium, minatar" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl || exit
    export PYTHONPATH=/tmp/site
fi
PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 timeout 150 python3 benchmarks/dqn_speed.py \
    --device "$device" --skip-cartpole --minatar-steps 3000 --json "$out/dqn_speed.$device.json"
echo "dqn_speed exit $? after $(( $(date +%s) - start )) s"
graphs=$(python3 - "$out/dqn_speed.$device.json" <<'EOF'
import json, sys
try:
    ms = json.load(open(sys.argv[1]))["results"]["pqn_atari_update_ms"]
    print("true" if ms["graphed"] < ms["eager"] else "false")
except Exception:
    print("false")
EOF
)
left=$(( budget - ($(date +%s) - start) ))
earlier=0  # a resumed run's cap counts its earlier sessions' training time too
[ -f .pong/run/metrics.jsonl ] && earlier=$(tail -n 1 .pong/run/metrics.jsonl | python3 -c "import json, sys; print(json.load(sys.stdin)['time_s'])")
minutes=$(python3 -c "print(round($earlier / 60 + max(1.0, ($left - 150) / 60), 1))")  # ~150 s: start, final evaluation, figures
echo "Pong: GRAPHS=$graphs, $minutes minutes of training, ${left} s left"
threads=$([ "$device" = cuda ] && echo 14 || echo 1)
GRAPHS=$graphs OUT="$out" bash benchmarks/cuda_pong.sh "$minutes" "$threads" "$device" "$left"

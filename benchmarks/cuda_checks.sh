#!/usr/bin/env bash
# The GPU measurements of benchmarks/*.cuda.json, as one script for a lent GPU with a time limit:
#
#     OUT=DIR bash benchmarks/cuda_checks.sh [SECONDS]     (default 540; records and logs go to DIR)
#
# Each step gets what is left of the budget (at most its own cap), so a slow compilation costs the
# later steps, not the whole run. Order: what is cheap and certain first.
set -u
budget=${1:-540}
out=${OUT:-benchmarks}
start=$(date +%s)
export PYTHONPATH=src PYTHONUNBUFFERED=1
py=${PYTHON:-python3}

step() {  # step CAP NAME COMMAND...: run COMMAND under min(CAP, time left - 5 s), log to $out/NAME.log
    local cap=$1 name=$2; shift 2
    local left=$(( budget - ($(date +%s) - start) - 5 ))
    (( left < cap )) && cap=$left
    if (( cap < 20 )); then echo "== $name: skipped, ${left}s left"; return; fi
    echo "== $name (cap ${cap}s): $*"
    timeout "$cap" "$@" 2>&1 | tee "$out/$name.log"
    echo "== $name: exit ${PIPESTATUS[0]} after $(( $(date +%s) - start ))s in all"
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
$py -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
step 120 ntm "$py" benchmarks/ntm_speed.py --device cuda --modes eager graphed --batches 1 16 32 \
    --json "$out/ntm_speed.cuda.json"
step 260 rnn256 "$py" benchmarks/rnn_speed.py --device cuda --hidden 256 --json "$out/rnn_speed.cuda.json"
step 150 ntmcompiled "$py" benchmarks/ntm_speed.py --device cuda --modes compiled --batches 1 \
    --json "$out/ntm_speed.compiled.cuda.json"
step 200 rnn128 "$py" benchmarks/rnn_speed.py --device cuda --hidden 128 --json "$out/rnn_speed.h128.cuda.json"

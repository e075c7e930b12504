#!/usr/bin/env bash
# Atari Pong with PQN on a lent GPU (issue 15's 15-minute goal), as one command for the device tool:
# ale-py's vector environments on the machine's cores (--atari-envs vector), the network on the GPU,
# the run capped by wall time (its final 30-episode evaluation and figures come after the cap):
#
#     OUT=DIR bash benchmarks/cuda_pong.sh [MINUTES] [THREADS] [DEVICE] [SECONDS]
#
# (defaults 6, 14, cuda, 570; GRAPHS=true in the environment adds --cuda-graphs true, and should the
# run fail before its first checkpoint, it is started again without). MINUTES caps the run's
# training time in all, earlier sessions' included; SECONDS caps this command (the training is interrupted, as with Ctrl-C, if the final
# evaluation would not end in time; its last checkpoint stays). The run trains in /tmp/run; at the end
# DIR/run gets its config.json, metrics.jsonl, result.json and figures, and DIR/checkpoint its last
# checkpoint cut into 15 MiB parts (the device tool brings back files of at most 16 MiB).
#
# To go on in a later session, copy what came back into .pong/ (ignored by git; carry it with .whl):
#     mkdir -p .pong && cp -r FILES_AT/run FILES_AT/checkpoint .pong/
# and run the script again with a larger MINUTES: the run resumes from its checkpoint (new games: the
# vector environments' games cannot be saved) and trains until its training time reaches MINUTES.
#
# The evaluations play one game after another in Python, the network called at every step (30 games
# are up to 135 000 agent steps: 18 000 frames a game), so the run evaluates 5 games every 500 000
# steps instead of 10 every 250 000. The run logs where a round's time goes (env_ms, act_ms,
# learn_ms: milliseconds per round of 128 × 32 steps).
# gymnasium, ale-py and minatar, where the machine lacks them, come from wheels carried in .whl
# (see ../.library/device/README.md); the rest of milestones' dependencies must be there.
set -u
minutes=${1:-6}
threads=${2:-14}
device=${3:-cuda}
seconds=${4:-570}
out=${OUT:-runs}
graphs=${GRAPHS:-false}
start=$(date +%s)
if ! python3 -c "import ale_py, gymnasium, minatar" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl || exit
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
[ "$device" = cuda ] && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
nproc
run=/tmp/run
rm -rf "$run"
left=$(( seconds - ($(date +%s) - start) - 15 ))  # 15 s to copy the results out
if [ -f .pong/run/config.json ]; then
    mkdir -p "$run/checkpoints"
    cp .pong/run/config.json .pong/run/metrics.jsonl "$run"/
    cat .pong/checkpoint/part-* > "$run/checkpoints/last.safetensors" || exit
    echo "resuming the run of .pong (its last logged step: $(tail -n 1 "$run/metrics.jsonl" | cut -c1-40))"
    timeout -s INT "$left" python3 -m milestones --no-progress train --resume "$run" --minutes "$minutes"
    status=$?
else
    fresh() {  # fresh [OPTION…]: a new run in $run within what is left of the budget
        left=$(( seconds - ($(date +%s) - start) - 15 ))
        timeout -s INT "$left" python3 -m milestones --no-progress train dqn/atari-pong-pqn --device "$device" \
            --atari-envs vector --env-threads "$threads" --eval-every 500000 --eval-episodes 5 \
            --minutes "$minutes" --seed 0 --run-dir "$run" "$@"
    }
    if [ "$graphs" = true ]; then
        fresh --cuda-graphs true
        status=$?
        if [ $status -ne 0 ] && [ ! -f "$run/checkpoints/last.safetensors" ]; then
            echo "the run with --cuda-graphs failed (exit $status) before its first checkpoint: again without"
            rm -rf "$run"
            fresh
            status=$?
        fi
    else
        fresh
        status=$?
    fi
fi
echo "training exit $status after $(( $(date +%s) - start )) s"
mkdir -p "$out/run/plots" "$out/checkpoint"
cp "$run"/*.json "$run"/metrics.jsonl "$out/run/" 2>/dev/null
cp "$run"/plots/* "$out/run/plots/" 2>/dev/null
[ -f "$run/checkpoints/last.safetensors" ] && split -b 15M -d "$run/checkpoints/last.safetensors" "$out/checkpoint/part-"
ls -l "$out"/run "$out"/checkpoint

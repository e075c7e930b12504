#!/usr/bin/env bash
# Atari Pong with PQN on a lent GPU (issue 15's 15-minute goal), as one command for the device tool:
# ale-py's vector environments on the machine's cores (--atari-envs vector), the network on the GPU,
# the run capped by wall time (its final 30-episode evaluation and figures come after the cap):
#
#     OUT=DIR bash benchmarks/cuda_pong.sh [MINUTES] [THREADS] [DEVICE]   (defaults 6, 14, cuda; run in DIR/run)
#
# The evaluations play one game after another in Python, the network called at every step (30 games
# are up to 135 000 agent steps: 18 000 frames a game), so the run evaluates 5 games every 2 M steps
# instead of 10 every 250 000, and 6 minutes of training, the final evaluation and the machine's
# start fit a session's 15 minutes of device time.
# gymnasium, ale-py and minatar, where the machine lacks them, come from wheels carried in .whl
# (see ../.library/device/README.md); the rest of milestones' dependencies must be there.
set -u
minutes=${1:-6}
threads=${2:-14}
device=${3:-cuda}
out=${OUT:-runs}
if ! python3 -c "import ale_py, gymnasium, minatar" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl || exit
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
[ "$device" = cuda ] && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
nproc
python3 -m milestones --no-progress train dqn/atari-pong-pqn --device "$device" --atari-envs vector \
    --env-threads "$threads" --eval-every 2000000 --eval-episodes 5 --minutes "$minutes" --seed 0 --run-dir "$out/run"

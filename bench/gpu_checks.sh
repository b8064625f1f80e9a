#!/usr/bin/env bash
# Issue 18's GPU checks in one prepared call, for a session lent a GPU machine (the device
# tool: `run`), which has python3 with torch but reaches no package registry:
#
#   here, once (the project's other needs, as wheels; .whl/ is git-excluded):
#     echo /.whl/ >> .git/info/exclude
#     .venv/bin/python -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#         --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#         -d .whl mido python-rtmidi platformdirs pychord importlib_resources
#   (pretty_midi stays behind: only a test here reads with it, and its wheel is 5.6 MB of the
#   64 MiB a call may send; the working tree is about 46 MiB since session 45)
#   then:  run(command="bash bench/gpu_checks.sh", carry=[".whl"], timeout_s=560)
#
# It installs the wheels and the project into /tmp/site, then runs tests/test_cuda.py, the
# generation and training benchmarks and the compiled engine's, each log and JSON under $OUT.
# DEVICE=cpu REPEATS=2 bash bench/gpu_checks.sh: a dry run of the same commands here.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-checks}
DEVICE=${DEVICE:-cuda}
REPEATS=${REPEATS:-20}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
if [ "$DEVICE" = cuda ]; then
    source bench/gpu_install.sh
fi
export PYTHONUNBUFFERED=1
step() {  # name, then the command: its output in $OUT/name.log, its exit status said
    local name=$1; shift
    echo "== $name: $*"
    timeout "${STEP_LIMIT:-150}" "$@" > "$OUT/$name.log" 2>&1
    echo "== $name: exit $? ($(tail -n 1 "$OUT/$name.log"))"
}
step tests "$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/test_cuda.py
step engine_speed "$PYTHON" bench/engine_speed.py --model genres --device "$DEVICE" --repeats "$REPEATS"
step compiled_engine "$PYTHON" bench/compiled_engine.py --device "$DEVICE" --repeats "$REPEATS" \
    --data tests/fixtures/lpd/rock --json "$OUT/compiled-engine-$DEVICE.json"
for batch in 64 512; do
    step "train_throughput_$batch" "$PYTHON" bench/train_throughput.py --device "$DEVICE" --batch "$batch" \
        --repeats "$REPEATS"
done
cat "$OUT"/*.log

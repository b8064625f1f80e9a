# Sourced by the GPU scripts (bench/gpu_checks.sh, bench/gpu_training_screen.sh) on a lent GPU
# machine, which has python3 with torch but reaches no package registry: installs the wheels
# carried in .whl/ (see gpu_checks.sh's header for how to fetch them) and the project into
# /tmp/site, puts it on PYTHONPATH and notes the GPU in $OUT/gpu.txt. Needs $PYTHON and $OUT.
"$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && "$PYTHON" -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir --target /tmp/site . \
    || { echo "the install failed"; exit 1; }
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"

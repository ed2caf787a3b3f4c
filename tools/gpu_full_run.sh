#!/usr/bin/env bash
# One GPU lease, used whole (maintainers): the full profile of the solution notebooks, timed, and the released
# SimCLR and MAE models. Made for the `device` tool of the course's build machine (nothing there can be
# downloaded): run from the repository root with the machine's own python3 (torch with CUDA), the Jupyter
# packages as wheels in .whl/ and the Fashion-MNIST files in .gpudata/ (both carried, both git-ignored).
#
#   OUT=/some/folder SECONDS_TOTAL=570 bash tools/gpu_full_run.sh
#
# Two processes share the GPU, and the times say so:
#   A. tools/train_released_simclr.py (notebook 04's recipe, longer and wider), released with its probe, then
#      notebook 04 once more in the full profile with COURSE_CHECKPOINTS=released (its own evaluation of it);
#   B. tools/time_notebooks.py --profile full over 04, 05, 02, 03, 01, 06 (empty cache, so each one trains),
#      then the release of 05's MAE.
# Everything lands in $OUT: logs, times, the executed notebooks and course_utils/released/ (a tarball), and the
# cached SimCLR and MAE checkpoints (another tarball).
set -u
OUT=${OUT:?set OUT to an empty folder}
PY=${PY:-python3}
TOTAL=${SECONDS_TOTAL:-570}            # the whole script ends inside this many seconds
SIMCLR_TRAIN=${SIMCLR_TRAIN:-380}      # seconds of SimCLR training in A (the probe and the rerun of 04 follow)
SIMCLR_ARGS=${SIMCLR_ARGS:---width 48 --epochs 200 --batch-size 512}
NOTEBOOKS=${NOTEBOOKS:-04_simclr 05_mae 02_autoencoders 03_vae 01_jensen_elbo 06_when_does_ssl_work}
start=$(date +%s)
PROFILE=${PROFILE:-full}
left() { echo $((TOTAL - ($(date +%s) - start))); }
lock() { if command -v flock >/dev/null; then flock /tmp/release.lock "$@"; else "$@"; fi; }  # one manifest writer
budget() { local s=$(( $(left) - $1 )); [ "$s" -lt 5 ] && s=5; echo "$s"; }  # seconds left, less a margin

if [ -d .whl ] && ! $PY -c "import nbclient, ipykernel" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg COURSE_DOWNLOAD=0
export COURSE_CACHE=${COURSE_CACHE:-/tmp/course-cache}
[ -d .gpudata ] && export FASHION_MNIST_ROOT=$PWD/.gpudata
mkdir -p "$OUT" /tmp/executed-$PROFILE /tmp/executed-released
nvidia-smi -L 2>&1
$PY -c "import torch, sys; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"
$PY -c "import nbclient, ipykernel, ipywidgets, sklearn, matplotlib" || { echo "missing packages: see .whl/"; exit 1; }

(  # A
  export OMP_NUM_THREADS=${A_THREADS:-4}  # 16 cores for two processes: tiny torch ops crawl when oversubscribed
  $PY tools/train_released_simclr.py $SIMCLR_ARGS --deadline "$SIMCLR_TRAIN" --out /tmp/simclr_long.pt
  cp /tmp/simclr_long.json "$OUT/" 2>/dev/null
  lock $PY tools/release_checkpoints.py simclr --from simclr=/tmp/simclr_long.pt
  if [ "$(left)" -gt 150 ]; then  # notebook 04's own evaluation of the released model, if time is left
    COURSE_CHECKPOINTS=released timeout "$(budget 25)" $PY tools/time_notebooks.py --profile "$PROFILE" \
      --out "$OUT/times_released.json" --executed /tmp/executed-released solutions/04_simclr.ipynb
  fi
) > "$OUT/a_simclr.log" 2>&1 &
a=$!

(  # B
  export OMP_NUM_THREADS=${B_THREADS:-12}
  paths=(); for n in $NOTEBOOKS; do paths+=("solutions/$n.ipynb"); done
  timeout "$(budget 40)" $PY tools/time_notebooks.py --profile "$PROFILE" --out "$OUT/times_$PROFILE.json" \
    --executed /tmp/executed-$PROFILE "${paths[@]}"
  lock timeout "$(budget 20)" $PY tools/release_checkpoints.py mae
) > "$OUT/b_notebooks.log" 2>&1 &
b=$!

wait $a $b
mkdir -p /tmp/executed-released
tar czf "$OUT/released_and_executed.tgz" course_utils/released -C /tmp "executed-$PROFILE" executed-released
# the cached SimCLR and MAE runs (main, ablations, fine-tuning), so that they need not be trained again elsewhere
(cd "$COURSE_CACHE" && tar czf "$OUT/cache_simclr_mae.tgz" checkpoints/simclr* checkpoints/mae* 2>/dev/null)
ls -la "$OUT"; echo "done in $(( $(date +%s) - start )) s"

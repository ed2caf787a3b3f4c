#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu). It installs Python 3.11,
# the course package with CPU-only torch, Fashion-MNIST where the distribution has it (decoded once, here, so
# that no submission pays for it), and an unprivileged user `student` that runs the submitted code.
# For a simulated image elsewhere (tests/test_gradescope_image.py): AUTOGRADER_ROOT (instead of /autograder),
# AUTOGRADER_APT=0 (the packages are there already), AUTOGRADER_TORCH_INDEX= (pip's own index instead of
# PyTorch's CPU wheels). A venv already at $AUTOGRADER_ROOT/venv is used as it is.
set -euo pipefail
ROOT=${AUTOGRADER_ROOT:-/autograder}
VENV="$ROOT/venv"
cd "$ROOT/source"
if [ "${AUTOGRADER_APT:-1}" = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  if ! apt-get install -y -q python3.11 python3.11-venv; then
    apt-get install -y -q software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update -q
    apt-get install -y -q python3.11 python3.11-venv
  fi
  # the sandbox (course_utils/grade/isolation.py); without it the code still runs as `student`
  apt-get install -y -q bubblewrap || echo "no bubblewrap here: submissions run as the user student, unsandboxed"
  apt-get install -y -q dataset-fashion-mnist \
    || echo "no dataset-fashion-mnist package here: the notebooks fall back to scikit-learn's digits"
fi
[ -x "$VENV/bin/python" ] || python3.11 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# CPU wheels of constraints.txt's torch: Gradescope has no GPU, and they are far smaller than the CUDA build.
TORCH_INDEX=${AUTOGRADER_TORCH_INDEX-https://download.pytorch.org/whl/cpu}
"$VENV/bin/python" -m pip install -q -c constraints.txt torch torchvision ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
"$VENV/bin/python" -m pip install -q -c constraints.txt -e "$ROOT/source"
# The images, decoded once into the course's cache: each submission's private cache starts with a copy.
"$VENV/bin/python" -c "from course_utils.data import load_data; load_data(True); load_data(False)"
# The submission runs as `student`: it can read the course package, not the hidden tests or the results folder.
id -u student >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin student
chmod 755 "$ROOT" "$ROOT/source"
chmod -R go-rwx "$ROOT/source/solutions"

#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu). It installs Python 3.11,
# the course package with CPU-only torch, Fashion-MNIST where the distribution has it, and an unprivileged
# user `student` that runs the submitted code.
set -euo pipefail
cd /autograder/source
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
if ! apt-get install -y -q python3.11 python3.11-venv; then
  apt-get install -y -q software-properties-common
  add-apt-repository -y ppa:deadsnakes/ppa
  apt-get update -q
  apt-get install -y -q python3.11 python3.11-venv
fi
apt-get install -y -q dataset-fashion-mnist \
  || echo "no dataset-fashion-mnist package here: the notebooks fall back to scikit-learn's digits"
python3.11 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install -q --upgrade pip
# CPU wheels of the pinned versions: Gradescope has no GPU, and they are far smaller than the CUDA build.
/autograder/venv/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1 \
  --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/python -m pip install -q -e /autograder/source
# The submission runs as `student`: it can read the course package, not the hidden tests or the results folder.
id -u student >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin student
chmod 755 /autograder /autograder/source
chmod -R go-rwx /autograder/source/solutions

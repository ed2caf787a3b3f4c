"""The one command line: ``course COMMAND`` (also ``python -m course_utils``), and ``./course`` as its bootstrap."""

import subprocess
import sys

import pytest

from course_utils import cli, testing
from helpers import ROOT


def test_the_help_lists_every_command_once(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    grouped = [n for names in cli.GROUPS.values() for n in names]
    assert sorted(grouped) == sorted(cli.COMMANDS), "every command is in exactly one group of the help"
    for name in cli.COMMANDS:
        assert f"  {name} " in out, name


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_has_help(name, capfd):
    try:
        status = cli.main([name, "--help"])  # a script of the clone: run as a program
    except SystemExit as stop:  # the package's own: argparse
        status = stop.code
    assert status == 0
    out = capfd.readouterr().out
    assert out.startswith("usage:") and "--help" in out


def test_an_unknown_command_names_the_closest(capsys):
    assert cli.main(["tset"]) == 2
    assert "Did you mean 'test'?" in capsys.readouterr().err


def test_python_dash_m_is_the_same_command_line():
    done = subprocess.run([sys.executable, "-m", "course_utils", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and "grade-batch" in done.stdout


def test_shared_options_are_written_once():
    """--profile, --solutions, the grading options and the LMS export's come from course_utils.options, not from each
    command."""
    for path in ["course_utils/grade/cli.py", "course_utils/grade/batch.py", "course_utils/grade/written.py",
                 "course_utils/slides.py", "tools/build_site.py", "course_utils/cli.py"]:
        text = (ROOT / path).read_text()
        for option in ('"--profile"', '"--solutions"', '"--hidden-visibility"', '"--no-execute"', '"--lms"',
                       '"--roster"', '"--lms-assignment"'):
            assert option not in text or path == "course_utils/slides.py" and option == '"--no-execute"', (path, option)


def test_side_by_side_workers(monkeypatch):
    monkeypatch.delenv("COURSE_TEST_WORKERS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setattr(testing.os, "cpu_count", lambda: 8)
    args, env = testing.side_by_side(None, [])
    assert args[:2] == ["-n", "4"] and env == {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    assert testing.side_by_side(1, []) == ([], {})
    assert testing.side_by_side(None, ["-n", "3"]) == ([], {}), "pytest's own -n wins"
    monkeypatch.setenv("COURSE_TEST_WORKERS", "2")
    assert testing.side_by_side(None, [])[0][:2] == ["-n", "2"]


def test_the_second_kernel_set(monkeypatch):
    for var in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS"):
        monkeypatch.delenv(var, raising=False)
    assert testing.second_kernel_set("x86_64", "fpu avx2 avx512f")["ATEN_CPU_CAPABILITY"] == "avx2"
    assert testing.second_kernel_set("x86_64", "fpu avx2")["ATEN_CPU_CAPABILITY"] == "default"
    assert testing.second_kernel_set("arm64", "") == {"ATEN_CPU_CAPABILITY": "default"}
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx512")
    assert testing.second_kernel_set("x86_64", "avx512f")["ATEN_CPU_CAPABILITY"] == "avx512", "the caller's choice wins"


def test_notebook_numbers():
    assert [p.name for p in cli.notebook_paths(ROOT, "notebooks", ["02"])] == ["02_autoencoders.ipynb"]
    assert len(cli.notebook_paths(ROOT, "notebooks", [])) >= 6
    with pytest.raises(cli.CourseError, match="two digits"):
        cli.notebook_paths(ROOT, "notebooks", ["2"])
    with pytest.raises(cli.CourseError, match=r"no notebook '99' in the course \(there are: 01_jensen_elbo, "):
        cli.notebook_paths(ROOT, "notebooks", ["99"])
    assert [p.name for p in cli.notebook_paths(ROOT, "notebooks", ["05", "02"])] == ["02_autoencoders.ipynb",
                                                                                      "05_mae.ipynb"]


def test_test_kernels_refuses_a_cache_with_checkpoints(tmp_path, capsys):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "model.pt").write_bytes(b"x")
    assert cli.main(["test-kernels", "--cache", str(tmp_path)]) == 2
    assert "must train from scratch" in capsys.readouterr().err


def test_the_bootstrap_hands_over_to_the_python_command_line(tmp_path):
    """./course (bash) only bootstraps .venv, then runs its `course`; there is no Makefile. Here the .venv is a
    stand-in, stamped as installed, whose `course` records its arguments: nothing is installed."""
    assert not (ROOT / "Makefile").exists()
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"  # a stand-in too: an install would call it, and it refuses
    python.write_text('#!/bin/sh\necho "stand-in python called: $*" >&2\nexit 1\n')
    python.chmod(0o755)
    course = venv / "bin" / "course"
    course.write_text(f'#!/bin/sh\necho "handed over: $*" > {tmp_path / "args"}\n')
    course.chmod(0o755)
    (venv / ".course-installed").write_text(testing.bootstrap_stamp(ROOT, "lab") + "\n")
    env = {"PATH": "/usr/bin:/bin", "COURSE_SKIP_APT": "1", "HOME": str(tmp_path), "COURSE_VENV": str(venv),
           "COURSE_PIP_TRIES": "1"}
    done = subprocess.run(["bash", str(ROOT / "course"), "lab", "--no-browser"], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "args").read_text() == "handed over: lab --no-browser\n"
    assert "installing" not in done.stderr, "the stamp matched: nothing was installed"
    (venv / ".course-installed").write_text("something else\n")  # pyproject.toml or constraints.txt changed
    done = subprocess.run(["bash", str(ROOT / "course"), "lab"], capture_output=True, text=True, env=env)
    assert done.returncode != 0 and "installing the course (lab)" in done.stderr
    assert "stand-in python called: -m pip install" in done.stderr
    assert "pip install failed 1 times" in done.stderr and "run the same command again" in done.stderr


def test_test_runs_train_in_float32_unless_asked(monkeypatch):
    """The stored values are float32 runs: a test run trains in float32 on a CPU with native bf16 too."""
    monkeypatch.delenv("COURSE_BF16", raising=False)
    assert testing.testing_env()["COURSE_BF16"] == "0" and testing.testing_env()["COURSE_VERIFY_STORED"] == "1"
    monkeypatch.setenv("COURSE_BF16", "1")
    assert testing.testing_env()["COURSE_BF16"] == "1", "the caller's choice wins"

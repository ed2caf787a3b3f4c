"""tools/time_notebooks.py's closing table (the timings themselves are measurements, never tests)."""

from helpers import load_script

tn = load_script("tools/time_notebooks.py")


def _entry(seconds, **extra):
    return {"ok": True, "wall_seconds": seconds, "cells": [[3, 10.0, "x = 1"], [7, 50.5, "train()"]], **extra}


def test_the_table_puts_each_time_next_to_issue_16s_figure_the_goal_and_the_hosts_speed():
    rows = [("solutions/05_mae.ipynb", 323.2, _entry(240.0, host_matmul_before=190.4, host_matmul_after=171.0)),
            ("solutions/06_when_does_ssl_work.ipynb", None, _entry(150.0))]
    lines = tn.summary("full", rows)
    mae = next(line for line in lines if line.startswith("solutions/05_mae"))
    assert mae.split() == ["solutions/05_mae.ipynb", "323.2", "240.0", "1296", "300", "190", "/", "171"]
    capstone = next(line for line in lines if line.startswith("solutions/06"))
    assert capstone.split() == ["solutions/06_when_does_ssl_work.ipynb", "-", "150.0", "576", "120", "-"]  # no record
    cells = lines[lines.index(mae) + 1: lines.index(mae) + 3]
    assert "cell   7" in cells[0] and "train()" in cells[0] and "cell   3" in cells[1]  # the slowest first


def test_a_failed_notebook_is_marked_and_the_fast_profile_has_no_goal():
    lines = tn.summary("fast", [("solutions/02_autoencoders.ipynb", 20.0, {**_entry(float("nan")), "ok": False})])
    row = lines[1].split()
    assert row[-1] == "FAILED" and row[3:5] == ["-", "-"]


def test_issue_16s_figures_are_the_ones_it_gives_in_minutes():
    assert {nb: round(s / 60, 1) for nb, s in tn.ISSUE_16["full"].items()} == {
        "02": 14.0, "03": 32.6, "04": 20.3, "05": 21.6, "06": 9.6}
    assert set(tn.ISSUE_16["full"]) == set(tn.GOALS["full"])

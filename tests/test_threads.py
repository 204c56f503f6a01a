"""fair_threads: one PyTorch thread per free core, from affinity, a container's CPU quota and
the load average; it only answers, and changes nothing."""

import os

import pytest
import torch

from gbp_widgets import fair_threads, threads


@pytest.fixture
def two_cores(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(threads, "CGROUP_CPU_MAX", tmp_path / "absent")
    return tmp_path


@pytest.mark.parametrize(("busy", "expected"), [(0.0, 2), (0.2, 2), (0.5, 1), (1.0, 1)])
def test_busy_cores_are_left_to_their_owners(two_cores, busy, expected):
    assert fair_threads(busy) == expected


def test_a_container_quota_caps_the_cores_seen(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")  # 1.5 CPUs, as a container may be given
    monkeypatch.setattr(threads, "CGROUP_CPU_MAX", quota)
    assert threads.cores_allowed() == 2
    assert fair_threads(0.0) == 2
    # A quarter of the host busy is a quarter of this container's share, not 16 of its 2.
    assert fair_threads(0.25) == 2
    quota.write_text("max 100000\n")
    assert threads.cores_allowed() == 64
    assert fair_threads(0.25) == 48


def test_the_cores_busy_now_decide_not_the_last_minutes_load(two_cores, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (1.9, 0.0, 0.0))
    monkeypatch.setattr(threads, "busy_share", lambda: 0.05)
    assert fair_threads() == 2
    monkeypatch.setattr(threads, "busy_share", lambda: 0.95)
    assert fair_threads() == 1


def test_the_load_average_stands_in_where_proc_stat_cannot_be_read(two_cores, monkeypatch):
    monkeypatch.setattr(threads, "busy_share", lambda: None)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    assert fair_threads() == 1


def test_busy_share_reads_the_kernels_counters(monkeypatch, tmp_path):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice: the guest time is
    # part of user time already and must not count twice.
    stat.write_text("cpu  100 0 100 800 0 0 0 0 50 0\n")
    readings = iter(["cpu  250 0 150 1000 0 0 0 0 90 0\n"])
    monkeypatch.setattr(threads, "PROC_STAT", stat)
    monkeypatch.setattr(threads.time, "sleep", lambda seconds: stat.write_text(next(readings)))
    # 200 of 400 ticks busy.
    assert threads.busy_share(0.0) == pytest.approx(0.5)


def test_it_changes_no_setting(two_cores):
    before = torch.get_num_threads()
    fair_threads(1.0)
    assert torch.get_num_threads() == before

"""When the rep's loop wakes without a BBS change."""

from __future__ import annotations

from foundry.rep.pacing import CRASH_SWEEP_S, DOWN_TICK_S, MAX_SLEEP_S, next_tick


def test_a_quiet_cell_wakes_at_most_every_few_seconds_not_every_second():
    assert next_tick(1000.0, True, 1000.0, []) == 1000.0 + MAX_SLEEP_S


def test_a_rotation_due_sooner_wakes_it_then():
    assert next_tick(1000.0, True, 1000.0, [1003.5, 2000.0]) == 1003.5


def test_the_sweep_wakes_it_when_due():
    assert next_tick(1000.0, True, 1000.0 - CRASH_SWEEP_S + 2.0, []) == 1002.0


def test_a_failed_rotation_is_retried_each_second_not_in_a_spin():
    assert next_tick(1000.0, True, 1000.0, [990.0]) == 1000.0 + DOWN_TICK_S


def test_without_the_event_stream_it_sweeps_every_second():
    assert next_tick(1000.0, False, 1000.0, [5000.0]) == 1000.0 + DOWN_TICK_S

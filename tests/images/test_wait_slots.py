"""WAIT_SLOTS (images/services/generations.py) holds as many waiting requests as MAX_WAITING_REQUESTS says."""

from __future__ import annotations

import threading

from images.services.generations import WAIT_SLOTS, WaitSlots


def admitted(slots: WaitSlots, requests: int) -> list[bool]:
    """Whether each of ``requests`` threads got a slot, all trying while the others hold theirs."""
    results: list[bool] = []
    all_tried = threading.Barrier(requests, timeout=10)

    def wait() -> None:
        with slots as got:
            results.append(got)
            all_tried.wait()

    threads = [threading.Thread(target=wait) for _ in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return sorted(results, reverse=True)


def test_the_size_is_read_from_the_setting_at_first_use_not_when_made(settings):
    slots = WaitSlots()
    settings.MAX_WAITING_REQUESTS = 2

    assert admitted(slots, 3) == [True, True, False]


def test_the_process_wide_slots_follow_the_settings_default(settings):
    assert settings.MAX_WAITING_REQUESTS == 12  # the documented default (no fallback of its own)

    assert admitted(WAIT_SLOTS, 13) == [True] * 12 + [False]


def test_every_slot_comes_back_once_its_holders_are_done(settings):
    settings.MAX_WAITING_REQUESTS = 2
    slots = WaitSlots()

    assert admitted(slots, 3) == [True, True, False]
    assert admitted(slots, 3) == [True, True, False]

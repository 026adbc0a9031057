"""The one retry schedule (imagegen/backoff.py)."""

from imagegen.backoff import doubling


def test_it_doubles_from_the_first_delay_up_to_the_cap():
    assert [doubling(n, first=1, cap=10) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert doubling(0, first=5, cap=60) == 5  # before any failure: the first delay

"""imagegen.bounded: a store that drops its oldest entries past its size."""

from __future__ import annotations

from imagegen.bounded import BoundedStore


def test_past_its_size_the_oldest_entries_go_first():
    store: BoundedStore[str] = BoundedStore(size=2)
    for key in ("a", "b", "c"):
        assert store.put(key, key.upper()) == key.upper()
    assert (store.get("a"), store.get("b"), store.get("c"), len(store)) == (None, "B", "C", 2)


def test_a_discarded_or_cleared_entry_is_gone():
    store: BoundedStore[int] = BoundedStore(size=4)
    store.put("a", 1)
    store.put("b", 2)
    store.discard("a")
    store.discard("missing")
    assert (store.get("a"), store.get("b")) == (None, 2)
    store.clear()
    assert len(store) == 0

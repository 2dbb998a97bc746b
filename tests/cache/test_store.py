"""The store: bytes bound the LRU, recently used entries survive, one fetch per key at a time."""

import threading

from app.cache.store import ENTRY_OVERHEAD, Entry, Store


def entry(size):
    return Entry([], b"x" * size, '"e"', 0.0, 5.0)


def test_store_never_holds_more_bytes_than_its_limit():
    store = Store(10 * (ENTRY_OVERHEAD + 1000))
    for number in range(50):
        store.put(f"k{number}", entry(1000))

    assert store.used_bytes <= 10 * (ENTRY_OVERHEAD + 1000)
    assert len(store) == 10
    assert store.get("k49") is not None and store.get("k0") is None


def test_recently_read_entries_outlive_older_ones():
    store = Store(3 * (ENTRY_OVERHEAD + 100))
    for key in ("a", "b", "c"):
        store.put(key, entry(100))
    store.get("a")
    store.put("d", entry(100))

    assert store.get("a") is not None
    assert store.get("b") is None


def test_an_entry_larger_than_the_store_is_not_kept():
    store = Store(ENTRY_OVERHEAD + 10)
    store.put("big", entry(100))

    assert store.get("big") is None


def test_one_caller_leads_a_flight_and_the_others_get_its_outcome():
    store = Store(1 << 20)
    flight, leader = store.join("k")
    joined = [store.join("k") for _ in range(5)]
    outcomes = []
    waiters = [threading.Thread(target=lambda f=f: (f.done.wait(5), outcomes.append(f.outcome))) for f, _ in joined]
    for waiter in waiters:
        waiter.start()
    store.land("k", flight, "fetched")
    for waiter in waiters:
        waiter.join(5)

    assert leader and not any(lead for _, lead in joined)
    assert outcomes == ["fetched"] * 5
    assert store.join("k")[1] is True


def test_concurrent_puts_and_gets_keep_the_byte_count_consistent():
    store = Store(50 * (ENTRY_OVERHEAD + 500))

    def churn(offset):
        for number in range(500):
            store.put(f"k{(number + offset) % 120}", entry(500))
            store.get(f"k{number % 120}")

    threads = [threading.Thread(target=churn, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert store.used_bytes == len(store) * (ENTRY_OVERHEAD + 500)
    assert store.used_bytes <= 50 * (ENTRY_OVERHEAD + 500)

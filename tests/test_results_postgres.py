"""The PostgreSQL results store against a real PostgreSQL server on loopback: idempotent rows, the notification
ledger, and two workers writing the same stream at once without a lost or doubled row, each through its own pool."""
import threading

from temporal_workflow.storage import ResultStore, result_row


def test_postgres_results_are_idempotent(postgres):
    store = ResultStore(postgres)
    assert store.postgres
    row = result_row("pg-1", 0, "k0", 0.0, "crying", {"crying": 0.9, "screaming": 0.05, "normal": 0.05})
    assert store.put(row) is True and store.put({**row, "label": "normal"}) is False
    got = store.get("pg-1", 0)
    assert got["label"] == "crying" and abs(got["p_crying"] - 0.9) < 1e-9 and store.get("pg-1", 1) is None
    assert not store.delivered("pg-1:1", "webhook")
    store.mark_delivered("pg-1:1", "webhook")
    store.mark_delivered("pg-1:1", "webhook")
    assert store.delivered("pg-1:1", "webhook") and not store.delivered("pg-1:1", "mqtt")


def test_two_writers_at_once_store_each_chunk_exactly_once(postgres):
    stores = [ResultStore(postgres), ResultStore(postgres)]   # two workers, each its own connections
    n, new = 60, [[], []]

    def write(k):   # both workers write every chunk (a retried activity on another worker), interleaved
        for i in (range(n) if k == 0 else reversed(range(n))):
            new[k].append(stores[k].put(result_row("pg-2", i, f"key{i}", 5.0 * i, "normal", {"normal": 1.0})))

    threads = [threading.Thread(target=write, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = stores[0].rows("pg-2")
    assert [r["chunk_index"] for r in rows] == list(range(n))
    assert sum(new[0]) + sum(new[1]) == n                      # every chunk was new to exactly one writer
    # each store kept to its pool: a handful of connections for 120 writes, not one per call
    assert all(s.pool.get_stats()["connections_num"] <= 4 for s in stores)
    for s in stores:
        s.close()

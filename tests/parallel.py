"""Real parallelism for the concurrency tests (PostgreSQL): threads that start together."""

import threading

from django.db import connection


def run_parallel(work, n: int):
    """Run ``work(i)`` in ``n`` threads that start at the same moment, each with its own database
    connection; return the results, and fail on any error (never swallowed)."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def target(i):
        try:
            barrier.wait(timeout=60)
            results[i] = work(i)
        except Exception as error:  # reported below, never swallowed
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results

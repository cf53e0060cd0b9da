from django.tasks import task

from nobroker import counting


@task()
def flush_counts() -> dict:
    """Moves what was counted into the database's daily rows, exactly once."""
    result = counting.flush()
    return {
        "batches": result.batches,
        "skipped": result.skipped,
        "events": result.events,
        "unique_keys": result.unique_keys,
    }

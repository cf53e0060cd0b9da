"""
The background task worker: django-tasks-db's `db_worker` (same options),
which first puts back the tasks a dead worker left running, so a worker
restarted after a crash picks its own lost tasks up at once rather than at
the next `requeue_stale_tasks` timer.
"""

from django_tasks_db.management.commands import db_worker

from nobroker.sendonce import requeue_stale_tasks


class Command(db_worker.Command):
    help = "Runs the database task worker, after requeueing stale tasks."

    def handle(self, *args, **options):
        count = requeue_stale_tasks()
        if count:
            self.stdout.write(f"worker: {count} stale task(s) put back")
        return super().handle(*args, **options)

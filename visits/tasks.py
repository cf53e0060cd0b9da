from django.tasks import task

from visits import services


@task()
def send_visit_reminders() -> int:
    """Sends the due 24-hour and 2-hour reminders; safe to run as often as wanted."""
    return services.visit_send_reminders()


@task()
def close_stale_visits() -> int:
    """Ends unanswered requests whose time passed and settles unmarked visits."""
    return services.visits_close_stale()

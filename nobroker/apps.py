from django.apps import AppConfig


class NobrokerConfig(AppConfig):
    """
    The project package as an app: the shared counting machinery's table and
    command, and the signals that carry request ids into tasks.
    """

    name = "nobroker"
    verbose_name = "No Broker Kathmandu"

    def ready(self):
        from django.tasks.signals import task_enqueued, task_finished, task_started

        from nobroker import logs

        task_enqueued.connect(logs.remember_request_id)
        task_started.connect(logs.restore_request_id)
        task_finished.connect(logs.forget_request_id)

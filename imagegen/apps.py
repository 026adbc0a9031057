from django.apps import AppConfig


class ImagegenConfig(AppConfig):
    name = "imagegen"
    verbose_name = "Imagegen"

    def ready(self) -> None:
        # Creating the Celery app makes it the one `shared_task` and `delay_on_commit` use in this process.
        from imagegen import celery  # noqa: F401

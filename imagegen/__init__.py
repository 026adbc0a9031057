# Loading the Celery app with Django makes `shared_task` and `delay_on_commit`
# use it in the web process too.
from celery_app import app as celery_app

__all__ = ["celery_app"]

"""Tables of the project package itself (not of a feature app)."""

from __future__ import annotations

from django.db import models


class RateCounter(models.Model):
    """One client's requests in its current rate window.

    ``imagegen.ratelimit`` updates a row with one upsert per request, so the
    cost does not grow with the rate and concurrent requests cannot both take
    the last allowed slot. Rows whose windows have ended are deleted by the
    periodic maintenance.
    """

    ident = models.CharField(max_length=200, primary_key=True)
    count = models.PositiveIntegerField(help_text="Requests counted in the window")
    resets_ms = models.BigIntegerField(db_index=True, help_text="When the window ends, in epoch milliseconds")

    class Meta:
        verbose_name = "rate counter"

    def __str__(self) -> str:
        return f"{self.ident}: {self.count}"

"""The record of a batch's webhook delivery: ``api/batches/<batch-id>/webhook.json``.

Written by ``cues.services.api.webhooks.deliver_batch_webhook`` after every attempt (so a crash mid-delivery leaves
the attempts made so far); read back by the same function (a delivered webhook is not sent again) and by
``GET /v1/batches/{batch_id}`` (its ``webhook`` field, :meth:`WebhookDelivery.summary`).
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cues.schemas.errors import IntegrityError


class WebhookAttempt(BaseModel):
    """One POST of the batch summary: when, and the HTTP status it got or the error that stopped it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: str = Field(description="when the attempt started, ISO 8601 UTC")
    status: int | None = Field(None, description="the receiver's HTTP status; null when no answer came")
    error: str | None = Field(None, description="why no answer came (connection refused, timed out …)")
    duration_ms: float = Field(ge=0, description="milliseconds from sending to the answer or the error")


class WebhookDelivery(BaseModel):
    """Every attempt to tell ``url`` that a batch ended, and how it stands."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: str
    url: str
    state: Literal["pending", "delivered", "failed"] = Field(
        description="pending: being delivered (or the service stopped mid-way); delivered: a 2xx answer; failed: a "
        "4xx other than 429, or every retry used"
    )
    delivered: bool = Field(description="a 2xx answer came")
    attempts: tuple[WebhookAttempt, ...] = ()

    def summary(self) -> dict:
        """The ``webhook`` field of ``GET /v1/batches/{batch_id}``: ``{"url", "state", "attempts"}`` (a count)."""
        return {"url": self.url, "state": self.state, "attempts": len(self.attempts)}


def read_webhook_delivery(data: bytes | str, where: str = "webhook.json") -> WebhookDelivery:
    """The record in ``data``; :class:`IntegrityError` naming ``where`` when it is not one."""
    try:
        return WebhookDelivery.model_validate(json.loads(data))
    except (ValueError, ValidationError, RecursionError) as err:
        detail = err.errors()[0]["msg"] if isinstance(err, ValidationError) else "not JSON"
        raise IntegrityError(f"{where} is not a valid webhook record: {detail}") from None

"""How ``cues serve`` runs: the store, who may call it, where it listens, how big a request may be, its workers."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cues.schemas.config import DEFAULT_STORE, RenderConfig, RuntimeConfig
from cues.schemas.yaml_safety import MAX_FILE_BYTES
from cues.services.api.webhook_targets import DEFAULT_WEBHOOK_NETWORKS


class ApiSettings(BaseModel):
    """The service's settings (``cues serve``'s options); the app keeps them in ``app.state.settings``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store: str = Field(DEFAULT_STORE, description="Store URI: a path, file://… or s3://bucket/prefix.")
    tokens_file: Path = Field(Path("tokens.yaml"), description="The tokens file (hashes only; cues token add).")
    webhook_secret_file: Path | None = Field(
        None, description="The service's webhook signing secret; each caller signs with a key derived from it."
    )
    webhook_networks: tuple[str, ...] = Field(
        DEFAULT_WEBHOOK_NETWORKS,
        description="Networks (CIDR) a webhook may be sent to besides public addresses; by default this machine's "
        "loopback. [] sends to public addresses only (webhook_targets.py).",
    )
    host: str = Field("127.0.0.1", description="Address Serve's HTTP proxy listens on.")
    port: int = Field(8000, ge=1, le=65535)
    max_body_bytes: int = Field(
        MAX_FILE_BYTES + 64 * 1024,
        ge=1024,
        description="Bytes a request body may have: a brief file's 1 MiB and room for a JSON request around it.",
    )
    workers: int | None = Field(None, ge=1, description="Warm cue workers; None = as many as fit, like cues up.")
    worker_cpus: float = Field(0.5, gt=0, le=64, description="CPUs each warm worker asks Ray for.")
    models: str | None = Field(None, description="Model bundle the workers load; None = the shipped one.")
    render: RenderConfig = Field(default_factory=RenderConfig)
    link_expiry_s: int = Field(3600, ge=60, le=7 * 24 * 3600, description="Seconds a presigned file link lives.")
    batch_attempts: int = Field(
        3, ge=1, le=20, description="Times a batch is started while the store or the workers fail it as a whole."
    )
    retry_delay_s: float = Field(5.0, ge=0, description="Seconds before a failed batch start is tried again (×2 each).")

    @field_validator("webhook_networks")
    @classmethod
    def _networks(cls, networks: tuple[str, ...]) -> tuple[str, ...]:
        for network in networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network: write it as CIDR, e.g. 10.20.0.0/16") from None
        return networks

    def runtime(self) -> RuntimeConfig:
        """The warm workers' configuration, as ``cues up`` would start them."""
        return RuntimeConfig(workers=self.workers, worker_cpus=self.worker_cpus, models=self.models,
                             render=self.render)

"""Batch deployment settings with Azure ML's defaults, shared by deployments and per-job overrides."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RetrySettings(BaseModel):
    """How often and how long one mini-batch may be tried."""

    model_config = ConfigDict(extra="forbid")

    max_retries: int = Field(3, ge=0, le=100)
    """Retries after the first failed or timed-out attempt (Azure default 3)."""
    timeout: int = Field(30, ge=1, le=259200)
    """Seconds one ``run(mini_batch)`` call may take before its worker is killed (Azure default 30)."""


OutputAction = Literal["append_row", "summary_only"]
LoggingLevel = Literal["debug", "info", "warning", "error", "critical"]


class BatchDeploymentSettings(BaseModel):
    """The ``settings:`` block of a ``type: model`` deployment (or the root keys of the legacy form)."""

    model_config = ConfigDict(extra="forbid")

    mini_batch_size: int = Field(10, ge=1, le=1_000_000)
    max_concurrency_per_instance: int = Field(1, ge=1, le=1024)
    instance_count: int = Field(1, ge=1, le=1024)
    output_action: OutputAction = "append_row"
    output_file_name: str = "predictions.csv"
    retry_settings: RetrySettings = Field(default_factory=RetrySettings)
    error_threshold: int = Field(-1, ge=-1)
    logging_level: LoggingLevel = "info"
    environment_variables: dict[str, str] = Field(default_factory=dict)

    @field_validator("output_action", mode="before")
    @classmethod
    def _accept_rest_spelling(cls, value: object) -> object:
        # The REST API spells these AppendRow / SummaryOnly.
        mapping = {"appendrow": "append_row", "summaryonly": "summary_only"}
        if isinstance(value, str):
            return mapping.get(value.replace("_", "").lower(), value)
        return value

    @field_validator("logging_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _stringify_env(cls, value: object) -> object:
        if isinstance(value, dict):
            return {str(k): "" if v is None else str(v) for k, v in value.items()}
        return value

    @field_validator("output_file_name")
    @classmethod
    def _plain_file_name(cls, value: str) -> str:
        from batchpoint.common import names

        return names.file_name(value, "output_file_name")

    @property
    def workers(self) -> int:
        return self.instance_count * self.max_concurrency_per_instance

"""Settings of the API server, from ``JOBGRAPH_API_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOBGRAPH_API_", extra="ignore")

    secure_cookies: bool = Field(
        default=True,
        description="Send the session cookie over HTTPS only. Browsers accept secure cookies "
        "from http://localhost too; turn off only behind a trusted plain-HTTP proxy.",
    )
    docs: bool = Field(default=True, description="Serve the interactive docs at /docs.")
    webhooks: bool = Field(
        default=True, description="Deliver webhook events from this server's processes."
    )

"""Settings from the environment and the workspace config file (``jobgraph.toml``)."""

from __future__ import annotations

import getpass
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobgraph.errors import UserError

CONFIG_FILE = "jobgraph.toml"
DATABASE_FILE = "jobgraph.db"
DATA_DIR = "data"


class Settings(BaseSettings):
    """Process-wide settings, read from ``JOBGRAPH_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="JOBGRAPH_", extra="ignore")

    workspace: Path | None = Field(default=None, description="Workspace folder to use.")
    user: str | None = Field(default=None, description="Name recorded as author of changes.")
    database_url: str | None = Field(
        default=None, description="Overrides the workspace's database (e.g. PostgreSQL)."
    )
    embedding_precision: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="MiniLM's arithmetic: auto is bfloat16 where the CPU has it natively.",
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = f"JOBGRAPH_{str(first['loc'][0]).upper()}"
            raise UserError(f"{name}: {first['msg']}; fix or unset that variable") from None

    def author(self) -> str:
        if self.user:
            return self.user
        try:
            return getpass.getuser()
        except Exception:  # no login name in some containers
            return os.environ.get("USER", "unknown")


class WorkspaceSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "jobgraph workspace"
    database_url: str = f"sqlite:///{DATABASE_FILE}"


class GovernanceSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    council: list[str] = Field(default_factory=list)
    review_cadence_days: int = Field(default=180, ge=1, le=3650)


class WorkspaceConfig(BaseModel):
    """The contents of ``jobgraph.toml``."""

    model_config = ConfigDict(extra="forbid")

    workspace: WorkspaceSection = Field(default_factory=WorkspaceSection)
    governance: GovernanceSection = Field(default_factory=GovernanceSection)

    @classmethod
    def read(cls, path: Path) -> WorkspaceConfig:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{path}: not valid TOML ({exc}); fix the file") from exc
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise UserError(f"{path}: field {where}: {first['msg']}") from exc

    def render(self) -> str:
        council = ", ".join(json.dumps(c) for c in self.governance.council)
        return (
            "# jobgraph workspace configuration\n"
            "[workspace]\n"
            f"name = {json.dumps(self.workspace.name)}\n"
            "# SQLite file inside the workspace by default; a PostgreSQL URL for teams, e.g.\n"
            '# database_url = "postgresql+psycopg://user@host:5432/jobgraph"\n'
            f"database_url = {json.dumps(self.workspace.database_url)}\n"
            "\n[governance]\n"
            "# who may approve any entity besides its owner\n"
            f"council = [{council}]\n"
            "# default time until an entity's evidence must be refreshed\n"
            f"review_cadence_days = {self.governance.review_cadence_days}\n"
        )

    def database_url_for(self, root: Path) -> str:
        url = self.workspace.database_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            rel = url[len(prefix) :]
            if rel and rel != ":memory:":
                return prefix + str((root / rel).resolve())
        return url

"""The demo workspace: the contact-centre starter kit plus a synthetic outcome survey and a
synthetic contact log.

Both are generated (seeded, so every demo is the same) and clearly labelled synthetic: they
exist to show the ODI scoring and the job metric panel, not to claim anything about real
customers.
"""

from __future__ import annotations

import csv
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jobgraph.analytics.contacts import write_contacts
from jobgraph.analytics.odi import ScoreTable, score
from jobgraph.analytics.synthetic import generate_contacts
from jobgraph.auth.access import Access
from jobgraph.auth.roles import Role
from jobgraph.auth.secrets import Passwords
from jobgraph.config import CONFIG_FILE, DATA_DIR, Settings, WorkspaceConfig
from jobgraph.domain.entities import Outcome, Persona, PersonaKind
from jobgraph.errors import UserError, WorkspaceExists
from jobgraph.interactions import CONTACTS_DIR
from jobgraph.metrics import MetricRun, compute_metrics, save_metrics
from jobgraph.service import Clock, Workspace, utcnow
from jobgraph.surveys import load_survey, save_scores

DEMO_NAME = "jobgraph demo"
SURVEY_FILE = "synthetic-outcome-survey.csv"
CHART_FILE = "opportunity-landscape.svg"
RESPONDENTS = 480


CONTACTS = 60_000
# the demo log's contact reasons: the starter kit maps most of them to jobs; the last three are
# left unmapped on purpose, so `jobgraph interactions reasons` has volume to show
DEMO_REASONS = (
    "billing-question",
    "payment-failed",
    "unexpected-charge",
    "billing-error",
    "password-reset",
    "charge-dispute",
    "payment-arrangement",
    "credit-score-question",
    "debt-help",
    "correction-follow-up",
    "card-chargeback",
    "credit-application",
    "address-change",
    "app-login-problem",
)


# who can sign in to the demo in the browser: (name, role, what they can do). The owner's name
# is the one the starter kit names as owner of most entities, so approving works for them.
DEMO_USERS: tuple[tuple[str, Role, str], ...] = (
    ("demo-council", Role.COUNCIL, "approves or rejects anything"),
    ("cx-research-lead", Role.OWNER, "approves what they own (most of the starter kit)"),
    ("demo-contributor", Role.CONTRIBUTOR, "edits drafts and submits them for review"),
    ("demo-viewer", Role.VIEWER, "reads only"),
)


@dataclass(frozen=True)
class DemoLogin:
    """A demo user and the password made for them (printed once, stored hashed)."""

    name: str
    role: Role
    password: str
    can: str


@dataclass(frozen=True)
class Demo:
    workspace: Workspace
    survey_path: Path
    scores: ScoreTable
    chart_path: Path | None
    metrics: MetricRun | None = None
    logins: list[DemoLogin] = field(default_factory=list)


def create_demo(
    folder: str | Path,
    *,
    settings: Settings | None = None,
    clock: Clock = utcnow,
    with_chart: bool = True,
    with_users: bool = True,
    passwords: Passwords | None = None,
) -> Demo:
    """Build (or rebuild) the demo workspace, score its synthetic survey and save the scores.

    Only a folder that holds an earlier demo workspace is replaced; any other existing
    workspace or non-empty folder is left alone. With ``with_users``, the demo users of
    :data:`DEMO_USERS` get fresh random passwords, so the web app can be tried at once.
    """
    root = Path(folder)
    config_path = root / CONFIG_FILE
    if config_path.is_file():
        if WorkspaceConfig.read(config_path).workspace.name != DEMO_NAME:
            raise WorkspaceExists(
                f"{root} holds a workspace that is not the demo; choose another folder"
            )
        shutil.rmtree(root)
    elif root.exists() and any(root.iterdir()):
        raise UserError(f"{root} exists and is not empty; choose another folder for the demo")
    ws = Workspace.init(
        root,
        starter="contact-centre",
        name=DEMO_NAME,
        author="demo",
        settings=settings,
        clock=clock,
    )
    try:
        survey_path = root / DATA_DIR / SURVEY_FILE
        write_synthetic_survey(ws, survey_path)
        survey = load_survey(survey_path, "long")
        table = score(survey, segment_by="persona", seed=0)
        save_scores(ws, survey, table, author="demo")
        write_contacts(
            generate_contacts(
                CONTACTS, seed=8220, start="2026-06-01", days=150, reasons=DEMO_REASONS
            ),
            root / CONTACTS_DIR,
        )
        metrics = compute_metrics(ws, by=("job",))
        save_metrics(ws, metrics, author="demo")
        chart_path = None
        if with_chart:
            from jobgraph.analytics.landscape import landscape_chart, save_chart

            titles = {r.id: r.entity.title for r in ws.list("outcome")}
            frame = table.frame()
            frame["label"] = frame["outcome_id"].map(titles)
            chart_path = root / CHART_FILE
            save_chart(
                landscape_chart(frame, title="Opportunity landscape (synthetic survey)"), chart_path
            )
        logins = add_demo_users(ws, passwords=passwords) if with_users else []
    except BaseException:
        ws.close()
        raise
    return Demo(ws, survey_path, table, chart_path, metrics, logins)


def add_demo_users(ws: Workspace, *, passwords: Passwords | None = None) -> list[DemoLogin]:
    """One user per demo role, each with a new random password (returned, never stored)."""
    access = Access(ws, passwords=passwords)
    logins = []
    for name, role, can in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        access.add_user(name, role, password=password, actor="demo")
        logins.append(DemoLogin(name, role, password, can))
    return logins


def write_synthetic_survey(ws: Workspace, path: Path, seed: int = 8220) -> None:
    """A long-format survey of the starter kit's outcomes by customer personas (synthetic)."""
    rng = np.random.default_rng(seed)
    outcomes = sorted(r.id for r in ws.list("outcome") if isinstance(r.entity, Outcome))
    personas = sorted(
        r.id
        for r in ws.list("persona")
        if isinstance(r.entity, Persona) and r.entity.persona_kind is PersonaKind.CUSTOMER
    )
    # each outcome gets a latent importance and satisfaction; personas shift them
    base_imp = rng.uniform(0.35, 0.95, len(outcomes))
    base_sat = rng.uniform(0.15, 0.85, len(outcomes))
    shift = rng.normal(0, 0.12, (len(personas), len(outcomes)))
    regions = ["north", "south", "east", "west"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["respondent_id", "outcome_id", "importance", "satisfaction", "region", "persona"]
        )
        for i in range(RESPONDENTS):
            p = int(rng.integers(len(personas)))
            region = regions[int(rng.integers(len(regions)))]
            for j, outcome in enumerate(outcomes):
                imp_top = rng.random() < np.clip(base_imp[j] + shift[p, j], 0.02, 0.98)
                sat_top = rng.random() < np.clip(base_sat[j] - shift[p, j], 0.02, 0.98)
                imp = int(rng.integers(4, 6)) if imp_top else int(rng.integers(1, 4))
                sat = int(rng.integers(4, 6)) if sat_top else int(rng.integers(1, 4))
                writer.writerow([f"resp-{i:04d}", outcome, imp, sat, region, personas[p]])

"""The dashboards: the job metric panel against targets with trends, the ODI opportunity
landscape, and persona scenario success. Charts are rendered on the server to inline SVG."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from markupsafe import Markup

from jobgraph.auth.access import Principal
from jobgraph.errors import UserError
from jobgraph.service import Workspace
from jobgraph.web import charts
from jobgraph.web.queries import TargetRow, metric_panel, odi_scores, persona_success
from jobgraph.web.render import HERE, PageRoute, current_user, render, workspace

router = APIRouter(route_class=PageRoute, include_in_schema=False)

User = Annotated[Principal, Depends(current_user)]
Ws = Annotated[Workspace, Depends(workspace)]

STATIC = {
    "htmx.min.js": "text/javascript",
    "style.css": "text/css",
}


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(
        HERE / "static" / name,
        media_type=STATIC[name],
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/dashboards", response_class=HTMLResponse)
def dashboards(who: User) -> Response:
    return RedirectResponse("/dashboards/metrics", status_code=302)


@router.get("/dashboards/metrics", response_class=HTMLResponse)
def metrics_dashboard(request: Request, who: User, ws: Ws) -> Response:
    rows = metric_panel(ws)
    by_metric: dict[str, list[TargetRow]] = defaultdict(list)
    for r in rows:
        by_metric[r.metric_id].append(r)
    svgs: dict[str, Markup] = {}
    for i, (metric_id, group) in enumerate(sorted(by_metric.items())):
        if any(r.value is not None for r in group):
            svgs[metric_id] = charts.metric_svg(
                group[0].metric_title, group[0].unit, group, f"metric-{i}"
            )
    dates = sorted({d for r in rows for d, _ in r.history})
    return render(
        request,
        "dash_metrics.html",
        {"by_metric": dict(sorted(by_metric.items())), "svgs": svgs, "dates": dates},
    )


@router.get("/dashboards/landscape", response_class=HTMLResponse)
def landscape_dashboard(
    request: Request,
    who: User,
    ws: Ws,
    segment: Annotated[str, Query(max_length=300)] = "all",
) -> Response:
    scores = odi_scores(ws)
    segments: list[str] = sorted(set(scores["segment"])) if not scores.empty else []
    if "all" in segments:
        segments = ["all", *[s for s in segments if s != "all"]]
    svg = None
    shown = scores
    if segments:
        if segment not in segments:
            raise UserError(
                f"no saved scores for segment {segment!r}; choose one of: {', '.join(segments)}"
            )
        shown = scores[scores["segment"] == segment].sort_values("opportunity", ascending=False)
        svg = charts.landscape_svg(scores, segment)
    return render(
        request,
        "dash_landscape.html",
        {
            "segments": segments,
            "segment": segment,
            "svg": svg,
            "rows": shown.to_dict(orient="records") if segments else [],
        },
    )


@router.get("/dashboards/personas", response_class=HTMLResponse)
def persona_dashboard(request: Request, who: User, ws: Ws) -> Response:
    rows = persona_success(ws)
    svg = charts.persona_svg(rows) if any(r.completion is not None for r in rows) else None
    return render(request, "dash_personas.html", {"rows": rows, "svg": svg})

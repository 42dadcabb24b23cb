"""`jobgraph classify ...` and `jobgraph discover`: contact texts to jobs, new contact drivers."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jobgraph.cli.app import err, out
from jobgraph.errors import UserError

if TYPE_CHECKING:
    from jobgraph.text import Examples, Method

classify_app = typer.Typer(
    help="Contact-to-job text classification: train, evaluate, predict (offline, CPU).",
    no_args_is_help=True,
)
app = classify_app

DataOpt = Annotated[
    Path, typer.Option("--data", help="CSV, TSV or JSON-lines file.", show_default=False)
]
TextColOpt = Annotated[str, typer.Option("--text-col", help="Column holding the text.")]
LabelColOpt = Annotated[str, typer.Option("--label-col", help="Column holding the job label.")]
ParentColOpt = Annotated[
    str | None,
    typer.Option("--parent-col", help="Column holding the label's parent (two-level taxonomy)."),
]
ModelOpt = Annotated[
    Path, typer.Option("--model", help="Model folder from `classify train`.", show_default=False)
]
ThresholdOpt = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        min=0.0,
        max=0.99,
        help="Confidence below which a contact is left unmapped (default: the model's).",
    ),
]
EncodingOpt = Annotated[str, typer.Option("--encoding", help="Text encoding of the file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@contextmanager
def progress_stages(quiet: bool = False) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A Rich progress bar per stage of long work, on stderr."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=quiet or not err.is_terminal,
    )

    def stage(name: str, total: int) -> Callable[[int], None]:
        task = progress.add_task(name, total=total)
        return lambda n: progress.advance(task, n)

    with progress:
        yield stage


FromWorkspaceOpt = Annotated[
    bool,
    typer.Option(
        "--from-workspace",
        help="Use the example utterances of the workspace's jobs (and intents) instead of --data.",
    ),
]
OptionalDataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="CSV, TSV or JSON-lines file.", show_default=False),
]


def _examples(
    data: Path | None,
    from_workspace: bool,
    text_col: str,
    label_col: str,
    parent_col: str | None,
    encoding: str,
) -> Examples:
    from jobgraph.text import examples_from_jobs, read_examples

    if (data is None) == (not from_workspace):
        raise UserError("give --data FILE or --from-workspace (one of them)")
    if data is not None:
        return read_examples(data, text_col, label_col, parent_col, encoding)
    from jobgraph.cli.app import state
    from jobgraph.service import Workspace

    ws = Workspace.open(state.workspace)
    try:
        return examples_from_jobs(ws.entities().values(), source=f"workspace {ws.root}")
    finally:
        ws.close()


@classify_app.command("train")
def train_cmd(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Model folder to write.", show_default=False)
    ],
    data: OptionalDataOpt = None,
    from_workspace: FromWorkspaceOpt = False,
    text_col: TextColOpt = "text",
    label_col: LabelColOpt = "category",
    parent_col: ParentColOpt = None,
    method: Annotated[
        str | None,
        typer.Option(
            help="lexical, static, embedding, combined or finetuned (default: combined with "
            "the text extra, else lexical)."
        ),
    ] = None,
    k_shot: Annotated[
        int | None, typer.Option("--k-shot", min=1, help="Train on K examples per label.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (k-shot sampling, training).")] = 0,
    threshold: Annotated[
        float, typer.Option(min=0.0, max=0.99, help="Abstain below this confidence.")
    ] = 0.5,
    epochs: Annotated[int, typer.Option(min=1, help="Fine-tuning epochs (finetuned).")] = 3,
    cascade: Annotated[
        bool,
        typer.Option(
            help="Give embedding models a fast first stage (a static table distilled from "
            "the encoder) that answers the contacts it is sure of."
        ),
    ] = True,
    fast_precision: Annotated[
        float,
        typer.Option(
            min=0.5,
            max=1.0,
            help="The fast stage answers only where it was at least this accurate out of fold.",
        ),
    ] = 0.99,
    fast_threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Fix the first stage's confidence threshold instead (lower: faster, less "
            "accurate; see docs/classify.md for the measured trade-off).",
        ),
    ] = None,
    kernel_landmarks: Annotated[
        int,
        typer.Option(
            min=0,
            help="embedding/combined: an RBF-kernel head over up to this many training "
            "examples (0: a linear head; fewer trains and predicts faster).",
        ),
    ] = 4000,
    encoding: EncodingOpt = "utf-8",
    as_json: JsonOpt = False,
) -> None:
    """Train a classifier from labelled utterances and write a self-contained model folder.

    With --from-workspace the labels are the jobs' ids, or with intents the intent names
    (each under its job); predictions then say the job of every contact.
    """
    from dataclasses import replace

    from jobgraph.text import TrainSettings, train
    from jobgraph.text import k_shot as sample
    from jobgraph.text.finetune import FineTuneSettings

    chosen = _method(method)
    examples = _examples(data, from_workspace, text_col, label_col, parent_col, encoding)
    if k_shot is not None:
        examples = sample(examples, k_shot, seed)
    settings = TrainSettings(
        method=chosen,
        threshold=threshold,
        seed=seed,
        finetune=replace(FineTuneSettings(), epochs=epochs),
        cascade=cascade,
        fast_precision=fast_precision,
        fast_threshold=fast_threshold,
        kernel_landmarks=kernel_landmarks,
    )
    with progress_stages(as_json) as stage:
        model = train(examples, settings, stage)
    model.info["trained"]["k_shot"] = k_shot
    model.save(out_dir)
    trained = model.info["trained"]
    summary = {
        "model": str(out_dir),
        "model_version": model.model_version,
        "method": model.method.value,
        "labels": len(model.labels),
        "examples": trained["examples"],
        "seconds": trained["seconds"],
        "temperature": round(model.temperature, 4),
        "threshold": model.threshold,
        "cascade": model.info.get("cascade"),
    }
    if as_json:
        out.print_json(json.dumps(summary))
        return
    out.print(
        f"Trained {summary['method']} model {summary['model_version']} on "
        f"{summary['examples']} examples of {summary['labels']} labels in "
        f"{summary['seconds']}s; written to {escape(str(out_dir))}."
    )


def _method(name: str | None) -> Method:
    from jobgraph.text import Method
    from jobgraph.text.embed import torch_available

    if name is None:
        return Method.COMBINED if torch_available() else Method.LEXICAL
    try:
        return Method(name)
    except ValueError:
        raise UserError(
            f"--method {name!r} is not one of {', '.join(m.value for m in Method)}"
        ) from None


@classify_app.command("eval")
def eval_cmd(
    model_dir: Annotated[
        Path | None,
        typer.Option("--model", help="Model folder from `classify train`.", show_default=False),
    ] = None,
    data: OptionalDataOpt = None,
    from_workspace: FromWorkspaceOpt = False,
    folds: Annotated[
        int, typer.Option(min=2, help="Cross-validation folds (without --model).")
    ] = 5,
    method: Annotated[
        str | None,
        typer.Option(help="Method to cross-validate (without --model); default as in train."),
    ] = None,
    text_col: TextColOpt = "text",
    label_col: LabelColOpt = "category",
    parent_col: ParentColOpt = None,
    threshold: ThresholdOpt = None,
    seed: Annotated[int, typer.Option(help="Random seed (cross-validation).")] = 0,
    cascade: Annotated[
        bool,
        typer.Option(
            "--cascade-curve",
            help="With --model, if it has a fast first stage: its share and accuracy at several "
            "thresholds, against the full model alone (runs the full model on every text).",
        ),
    ] = False,
    encoding: EncodingOpt = "utf-8",
    as_json: JsonOpt = False,
) -> None:
    """Score a model on labelled utterances: accuracy, macro-F1, coverage, confusions.

    Without --model, cross-validate a method on the examples themselves (--folds), e.g. on the
    knowledge base's examples with --from-workspace. With intents, accuracy is reported at both
    levels: intent and job.
    """
    from jobgraph.text import TrainSettings, load
    from jobgraph.text.evaluate import cross_validate, evaluate

    if cascade and model_dir is None:
        raise UserError("--cascade-curve needs --model (a trained model folder)")
    examples = _examples(data, from_workspace, text_col, label_col, parent_col, encoding)
    curve: dict[str, Any] | None = None
    with progress_stages(as_json) as stage:
        if model_dir is not None:
            model = load(model_dir)
            if cascade and model.fast is None:
                raise UserError(
                    f"{model_dir}: this model has no fast first stage (method "
                    f"{model.method.value}); drop --cascade-curve"
                )
            version = model.model_version
            result = evaluate(model, examples, threshold, stage)
            if cascade:
                from jobgraph.text.cascade import cascade_curve

                advance = stage("cascade curve (full model on every text)", 1)
                curve = cascade_curve(model, list(examples.texts), list(examples.labels))
                advance(1)
        else:
            cut = 0.5 if threshold is None else threshold
            settings = TrainSettings(method=_method(method), threshold=cut, seed=seed)
            result = cross_validate(examples, settings, folds, stage)
            version = f"{settings.method.value} ({folds}-fold cross-validation)"
    if as_json:
        extra = {"cascade": curve} if curve is not None else {}
        out.print_json(json.dumps({"model_version": version, **result.as_dict(), **extra}))
        return
    out.print(
        f"{result.n} examples: accuracy {result.accuracy:.2%}, macro-F1 {result.macro_f1:.2%}; "
        f"at confidence >= {result.threshold:g}: coverage {result.coverage:.1%}, accuracy "
        + (f"{result.covered_accuracy:.2%}" if result.covered_accuracy is not None else "-")
        + f"; calibration error {result.ece:.3f}"
    )
    if result.parent_accuracy is not None:
        out.print(
            f"Two levels: intent accuracy {result.accuracy:.2%}; job (parent) accuracy "
            f"{result.parent_accuracy:.2%}, macro-F1 {result.parent_macro_f1 or 0:.2%}"
        )
    if result.unknown_labels:
        err.print(
            f"warning: {len(result.unknown_labels)} label(s) the model does not know: "
            + ", ".join(result.unknown_labels[:10]),
            markup=False,
        )
    if curve is not None:
        _print_cascade_curve(curve)
    if result.confusions:
        view = Table(title="Most frequent confusions")
        for name in ("true", "predicted", "count"):
            view.add_column(name, justify="right" if name == "count" else "left")
        for c in result.confusions:
            view.add_row(escape(c["true"]), escape(c["predicted"]), str(c["count"]))
        out.print(view)


def _print_cascade_curve(curve: dict[str, Any]) -> None:
    view = Table(
        title=f"Fast first stage (the model's threshold {curve['threshold']:g}; the full model "
        f"alone: accuracy {curve['full_model_alone_accuracy']:.2%})"
    )
    for name in ("threshold", "answered by the first stage", "accuracy"):
        view.add_column(name, justify="right")
    own = curve["at_threshold"]
    for point in [own, *curve["curve"]]:
        mark = " (the model's)" if point is own else ""
        view.add_row(
            f"{point['threshold']:g}{mark}",
            f"{point['answered_by_first_stage']:.1%}",
            f"{point['accuracy']:.2%}",
        )
    out.print(view)


@classify_app.command("predict")
def predict_cmd(
    model_dir: ModelOpt,
    texts: Annotated[
        list[str] | None, typer.Argument(help="Texts to classify (or use --data).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="CSV, TSV or JSON-lines file of texts.")
    ] = None,
    text_col: TextColOpt = "text",
    threshold: ThresholdOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write predictions to this CSV.")
    ] = None,
    encoding: EncodingOpt = "utf-8",
    as_json: JsonOpt = False,
) -> None:
    """Map texts to jobs; contacts below the threshold are left unmapped (label empty)."""
    from jobgraph.text import load, read_texts

    if data is not None and texts:
        raise UserError("give texts as arguments or --data FILE, not both")
    if data is not None:
        items, _ = read_texts(data, text_col, encoding)
    elif texts:
        items = list(texts)
    else:
        raise UserError("nothing to classify: give texts as arguments or --data FILE")
    model = load(model_dir)
    with progress_stages(as_json) as stage:
        preds = model.predict(items, threshold=threshold, stage=stage)
    rows = [{"text": t, **p.as_dict()} for t, p in zip(items, preds, strict=True)]
    if output is not None:
        _write_csv(output, rows)
    if as_json:
        out.print_json(json.dumps(rows if output is None else {"written": str(output)}))
        return
    if output is not None:
        mapped = sum(not p.abstained for p in preds)
        out.print(f"{len(preds)} predictions ({mapped} mapped) written to {escape(str(output))}.")
        return
    view = Table(title=f"Predictions — model {model.model_version}")
    view.add_column("text", overflow="fold")
    view.add_column("job", overflow="fold")
    view.add_column("confidence", justify="right")
    for t, p in zip(items, preds, strict=True):
        job = f"({escape(p.label)}?)" if p.abstained else escape(p.label)
        view.add_row(escape(t), job, f"{p.confidence:.2f}")
    out.print(view)


def _write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


# registered in cli/app.py as `jobgraph discover`
def discover(
    data: DataOpt,
    text_col: TextColOpt = "text",
    label_col: Annotated[
        str | None,
        typer.Option("--label-col", help="True labels, to score the clusters (ACC, NMI, ARI)."),
    ] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option("--model", help="Cluster only the texts this model leaves unmapped."),
    ] = None,
    k: Annotated[
        int | None, typer.Option("--k", help="Number of clusters (default: chosen).")
    ] = None,
    k_min: Annotated[int, typer.Option("--k-min", min=2, help="Smallest k tried.")] = 2,
    k_max: Annotated[
        int | None, typer.Option("--k-max", min=2, help="Largest k tried (default: n/8, max 60).")
    ] = None,
    representation: Annotated[
        str | None,
        typer.Option(help="embedding or lexical (default: embedding with the text extra)."),
    ] = None,
    threshold: ThresholdOpt = None,
    examples: Annotated[int, typer.Option(min=0, help="Utterances listed per cluster.")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    promote: Annotated[
        int | None,
        typer.Option(
            "--promote",
            min=0,
            help="Create a draft job in the workspace from this cluster (its number in the "
            "table; run with the same options first to see them).",
        ),
    ] = None,
    job_id: Annotated[
        str | None,
        typer.Option("--job-id", help="Id of the promoted job (default: made from its name)."),
    ] = None,
    promote_examples: Annotated[
        int, typer.Option(min=1, help="Central utterances the promoted job keeps as examples.")
    ] = 10,
    encoding: EncodingOpt = "utf-8",
    as_json: JsonOpt = False,
) -> None:
    """Cluster utterances into candidate jobs (contact drivers), named by distinctive words.

    With --promote N the cluster numbered N becomes a draft job of the workspace (versioned
    and linted like any edit), named after the cluster, with its most central utterances as
    example utterances; rewrite its statement before submitting it for review.
    """
    from jobgraph.text import load, read_texts
    from jobgraph.text.discovery import Representation, draft_job
    from jobgraph.text.discovery import discover as run

    if job_id is not None and promote is None:
        raise UserError("--job-id names a promoted job: give --promote CLUSTER too")
    if promote is not None:
        from jobgraph.cli.app import state
        from jobgraph.service import Workspace

        Workspace.find(state.workspace)  # before the slow part: is there a workspace at all?

    texts, labels = read_texts(data, text_col, encoding, label_col)
    if model_dir is not None:
        model = load(model_dir)
        with progress_stages(as_json) as stage:
            preds = model.predict(texts, threshold=threshold, stage=stage)
        keep = [i for i, p in enumerate(preds) if p.abstained]
        err.print(f"{len(keep)} of {len(texts)} texts are unmapped by the model.", markup=False)
        texts = [texts[i] for i in keep]
        labels = [labels[i] for i in keep] if labels is not None else None
    try:
        rep = Representation(representation) if representation else None
    except ValueError:
        raise UserError(
            f"--representation must be embedding or lexical, not {representation!r}"
        ) from None
    n = len(texts)
    high = k_max if k_max is not None else max(k_min, min(60, n // 8))
    with progress_stages(as_json) as stage:
        found = run(texts, k, (k_min, high), rep, labels, seed, stage)
    promoted = None
    if promote is not None:
        promoted = _promote(
            draft_job(
                found, promote, texts, job_id=job_id, max_examples=promote_examples,
                source=str(data),
            )
        )  # fmt: skip
    if as_json:
        out.print_json(json.dumps({**found.as_dict(texts, examples), "promoted": promoted}))
        return
    out.print(
        f"{len(found.clusters)} candidate jobs among {n} utterances ({found.representation.value} "
        f"vectors; k chosen by {found.criterion}: {found.criterion_by_k.get(found.k, 0):.3f})."
    )
    if found.scores is not None:
        s = found.scores
        out.print(
            f"Against --label-col ({s.n_labels} labels): accuracy {s.accuracy:.2%} (Hungarian "
            f"1:1), NMI {s.nmi:.3f}, ARI {s.ari:.3f}"
        )
    view = Table(title="Candidate jobs")
    view.add_column("#", justify="right")
    view.add_column("size", justify="right")
    view.add_column("name", overflow="fold")
    view.add_column("most central utterances", overflow="fold")
    for c in found.clusters:
        view.add_row(
            str(c.id), str(c.size), escape(c.name), escape(" | ".join(c.central[:examples]))
        )
    out.print(view)
    if promoted is not None:
        out.print(
            f"Promoted cluster {promote} to draft job [bold]{escape(str(promoted['id']))}[/] "
            f"(version {promoted['version']}) with {promoted['n_examples']} example "
            "utterances; rewrite its statement, then submit it for review."
        )


def _promote(data: dict[str, object]) -> dict[str, object]:
    """Create the draft job through the workspace service (versioned and linted)."""
    from jobgraph.cli.app import state
    from jobgraph.domain.entities import Job
    from jobgraph.service import Workspace

    ws = Workspace.open(state.workspace)
    try:
        record = ws.create(data, reason="promoted from contact-driver discovery")
    finally:
        ws.close()
    job = record.entity
    assert isinstance(job, Job)
    return {
        "id": job.id,
        "version": record.version,
        "title": job.title,
        "examples": job.examples,
        "n_examples": len(job.examples),
    }

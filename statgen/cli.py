"""The command line: parse arguments, build a config, call one function. Nothing else lives here."""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from statgen.config.settings import FLAGS
from statgen.errors import Interrupted, StatgenError
from statgen.wording import counted

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
    help="Exact robot-state training data (ROSA) from simulated arms, as WebDataset shards.",
)


def generate(**given: Any) -> None:
    """Generate a dataset: shards/, index/, _run/ and dataset.json under --out."""
    from statgen.config import build_config, load_pipeline
    from statgen.run.generate import generate as run

    flags = {_GENERATE_OPTIONS[p].key: (None if v is False else v) for p, v in given.items()}  # False: a bool flag not given
    pipeline, out = flags.pop("pipeline"), flags.get("out")
    values = load_pipeline(pipeline) if pipeline else {}
    if flags.get("resume") and not flags.get("overwrite") and out is not None:
        from statgen.run.identity import config_of_run, legacy_of_run

        if flags.get("robot") is None and pipeline is None:
            values = config_of_run(out)  # `--resume --out DIR` continues with the run's own config
        else:  # its config given again: what the run was made with before a setting existed, unless given
            values = {**legacy_of_run(out), **values}
    ds = run(build_config(values, flags=flags))
    out_dir = out or f"data/{ds['robot']}"
    rate, acc, did = ds.get("samples_per_second"), ds["acceptance"], ds["run"]
    complete = f"{counted(ds['samples'], 'sample')} already complete in {out_dir} ({_shards(len(ds['shards']))}, checksums verified)"
    if did["already_complete"]:
        typer.echo(f"nothing to do: {complete}")
        return
    if did["repaired"]:
        typer.echo(f"repaired {out_dir}: {'; '.join(did['repaired'])}; {complete}")
        return
    wrote = f"wrote {counted(did['written_samples'], 'sample')} in {_shards(did['written_shards'])}"
    if did["kept_shards"]:
        wrote = f"resumed {out_dir}: kept {counted(did['kept_samples'], 'sample')} in {_shards(did['kept_shards'], 'finished ')}, {wrote}; {counted(ds['samples'], 'sample')} in all"
    else:
        wrote += f" to {out_dir}"
    typer.echo(wrote + (f" at {rate:.1f} samples/s" if rate else "") + f" (accepted {acc['accepted']} of {acc['drawn']} draws)")


_METAVARS = {"int": "<int>", "float": "<float>", "str": "<str>", "list[str]": "<a,b>"}


def _options(declared: dict) -> dict[str, Any]:
    """`statgen generate`'s options, generated from the settings declared with a flag
    (statgen.config.settings): parameter name -> the setting's declaration."""
    return {d.key.replace(".", "_"): d for d in declared.values()}


def _signature(options: dict[str, Any]) -> inspect.Signature:
    params = []
    for name, d in options.items():
        if d.meta.kind == "bool":  # a flag without a value: --resume, --quiet
            default, annotation = typer.Option(False, d.meta.flag, help=d.meta.help), bool
        else:  # every value arrives as text and is checked against the declaration, so every mistake is listed at once
            default = typer.Option(None, d.meta.flag, help=d.meta.help, metavar=d.meta.metavar or _METAVARS.get(d.meta.kind, "<str>"))
            annotation = Optional[str]
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
    return inspect.Signature(params)


_GENERATE_OPTIONS = _options(FLAGS)
generate.__signature__ = _signature(_GENERATE_OPTIONS)  # typer reads the options from here
generate.__annotations__ = {p.name: p.annotation for p in generate.__signature__.parameters.values()}
app.command()(generate)


def _shards(k: int, kind: str = "") -> str:
    return counted(k, f"{kind}shard")


@app.command()
def verify(
    dataset: str = typer.Argument(..., help="Dataset folder, or an s3:// / gs:// prefix."),
    fk_samples: Optional[int] = typer.Option(None, help="Re-run FK on this many samples per shard (0 = all) [default: 0]."),
    no_fk: bool = typer.Option(False, "--no-fk", help="Skip the checks that need the robot model (FK, the seed re-draw)."),
    assets: Optional[str] = typer.Option(None, help="Folder with Menagerie-layout robot models."),
    render_samples: Optional[int] = typer.Option(None, help="Render this many samples per shard again from their scene record (schema 2; 0 = none) [default: 1]."),
) -> None:
    """Re-read every shard: checksums, images, FK from qpos, the seed, the pixels, dense unique keys. Exit 1 on any problem."""
    from statgen.verify import verify as run

    report = run(dataset, fk_samples=fk_samples, assets_dir=assets, fk=not no_fk, render_samples=render_samples)
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        raise SystemExit(1)


@app.command()
def preview(
    dataset: str = typer.Argument(..., help="Dataset folder, or an s3:// / gs:// prefix."),
    out: str = typer.Option("preview.png", "--out", help="Image to write: .png, .jpg, .jpeg or .webp."),
    count: Optional[int] = typer.Option(None, help="How many samples (1 to 256) [default: 16; 10 frames with --episode]."),
    camera: str = typer.Option("front", help="Which camera."),
    episode: Optional[int] = typer.Option(None, "--episode", help="A trajectory dataset's episode K: a strip of its frames with the TCP path."),
) -> None:
    """A contact sheet with the TCP and its axes drawn from the stored labels (--episode K: one episode's strip)."""
    from statgen.preview import contact_sheet, episode_strip

    if episode is not None:
        path = episode_strip(dataset, out=Path(out), episode=episode, count=10 if count is None else count, camera=camera)
    else:
        path = contact_sheet(dataset, out=Path(out), count=16 if count is None else count, camera=camera)
    typer.echo(f"wrote {path}")


@app.command()
def export(
    dataset: str = typer.Argument(..., help="Dataset folder, or an s3:// / gs:// prefix."),
    to: str = typer.Option(..., "--to", help="Format: llava, llamafactory or lerobot."),
    out: str = typer.Option(..., "--out", help="A new (or empty) folder, or an s3:// / gs:// prefix; never overwritten."),
    camera: Optional[str] = typer.Option(None, "--camera", help="Camera (llava, llamafactory: default front; lerobot: default every camera)."),
    text: Optional[str] = typer.Option(None, "--text", help="Comma-separated text kinds, e.g. rosa,natural [default: every kind, rosa first]."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress on stderr."),
) -> None:
    """Export a dataset for LLaVA, LLaMA-Factory or LeRobot (v3.0), following its splits."""
    from statgen.export import export as run

    kinds = [k.strip() for k in text.split(",") if k.strip()] if text is not None else None
    if text is not None and not kinds:
        from statgen.errors import ConfigError

        raise ConfigError("--text: expected one or more comma-separated kinds, e.g. rosa,natural")
    result = run(dataset, to=to, out=out, camera=camera, texts=kinds, progress=not quiet)
    typer.echo(result.summary())


@app.command()
def stats(
    dataset: str = typer.Argument(..., help="Dataset folder, or an s3:// / gs:// prefix."),
) -> None:
    """Draw the dataset's plots into DIR/stats/: TCP workspace coverage, ROSA dimensions, visibility, gripper, acceptance per shard."""
    from statgen.errors import VerifyError
    from statgen.export.plots import write_plots
    from statgen.storage.fs import Store
    from statgen.storage.read import read_dataset_json

    store = Store.open(dataset)
    info = read_dataset_json(store, damaged=VerifyError)
    summary, written = write_plots(store, info)
    for rel in written:
        typer.echo(f"wrote {store.join(rel)}")
    cams = ", ".join(f"{c} in view {100 * summary.rate(summary.in_view[c]):.1f}%, visible {100 * summary.rate(summary.visible[c]):.1f}%"
                     for c in summary.in_view)
    typer.echo(f"{summary.samples} samples; gripper open {100 * summary.rate(summary.gripper_open):.1f}%; {cams}")


robots_app = typer.Typer(add_completion=False, rich_markup_mode=None, help="List the robots, or draft a robot TOML from a model file (init).")
app.add_typer(robots_app, name="robots")


@robots_app.callback(invoke_without_command=True)
def robots(ctx: typer.Context) -> None:
    """List the robots, their model source, and whether the model is available here; `statgen robots init` drafts a new one."""
    if ctx.invoked_subcommand is not None:
        return
    from statgen.robots import robot_table

    for line in robot_table():
        typer.echo(line)


@robots_app.command("init")
def robots_init(
    model_file: str = typer.Argument(..., help="The arm's MJCF (.xml) or URDF (.urdf) file."),
    out: str = typer.Option(..., "--out", help="The robot TOML to write (e.g. my_arm.toml); it must not exist yet."),
    gripper: Optional[str] = typer.Option(None, "--gripper", help="A gripper MJCF (or its folder) to attach at the arm's flange."),
    name: Optional[str] = typer.Option(None, "--name", help="The robot's name [default: the --out file's stem]."),
) -> None:
    """Draft a robot TOML that `statgen generate --robot FILE.toml` takes at once, and list what a person must check."""
    from statgen.robot_init import init_robot

    checks = init_robot(model_file, out=out, gripper=gripper, name=name)
    typer.echo(f"wrote {out}; check before you rely on it:")
    for c in checks:
        typer.echo(f"  - {c}")
    typer.echo(f"then: statgen generate --robot {out} --n 100 --out data/try && statgen preview data/try --out preview.png")


def main(argv: list[str] | None = None) -> int:
    """Entry point: user mistakes print one line and exit 2; failures while running exit 1; a
    generate stopped by SIGINT/SIGTERM exits 130/143 (statgen.generate handles those signals)."""
    try:
        rv = app(args=argv, standalone_mode=False)
    except Interrupted as e:
        print(f"statgen: {e}", file=sys.stderr)
        return e.exit_code
    except StatgenError as e:
        print(f"statgen: error: {e}", file=sys.stderr)
        return e.exit_code
    except typer.TyperException as e:  # typer's (vendored click's) usage errors
        msg = e.format_message() if hasattr(e, "format_message") else str(e)
        if type(e).__name__ == "NoArgsIsHelpError":
            print(msg)
            return 0
        ctx = getattr(e, "ctx", None)
        where = f"statgen {' '.join(ctx.command_path.split()[1:])} --help" if ctx is not None and ctx.parent is not None else "statgen --help"
        print(f"statgen: error: {' '.join(msg.split())} (see {where})", file=sys.stderr)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        print("statgen: interrupted", file=sys.stderr)
        return 130
    except typer.Exit as e:
        return e.exit_code
    except SystemExit as e:
        return int(e.code or 0)
    except OSError as e:
        print(f"statgen: error: {e.strerror or e}{f' ({e.filename})' if e.filename else ''}", file=sys.stderr)
        return 1
    if isinstance(rv, int) and rv:  # typer returns an exit code instead of raising (standalone_mode=False)
        if rv == 130:  # its translation of KeyboardInterrupt (Ctrl-C in a command other than generate)
            print("statgen: interrupted", file=sys.stderr)
        return rv
    return 0


def _entry() -> None:
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: pyarrow's C++ thread pools can abort() ("terminate called
    # without an active exception") while static destructors race at exit, turning a
    # finished command into exit code 134. Everything is written and closed by now.
    os._exit(code)


if __name__ == "__main__":
    _entry()

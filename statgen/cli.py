"""The command line: parse arguments, build a config, call one function. Nothing else lives here."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from statgen.errors import Interrupted, StatgenError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
    help="Exact robot-state training data (ROSA) from simulated arms, as WebDataset shards.",
)


@app.command()
def generate(
    robot: Optional[str] = typer.Option(None, help="Robot name (see `statgen robots`) or a robot .toml path."),
    n: Optional[int] = typer.Option(None, "--n", help="Number of samples."),
    out: Optional[str] = typer.Option(None, help="Output folder [default: ./data/<robot>]."),
    seed: Optional[int] = typer.Option(None, help="Seed [default: 0]."),
    workers: Optional[int] = typer.Option(None, help="Ray workers [default: the number of CPUs]."),
    shard_size: Optional[int] = typer.Option(None, help="Samples per shard [default: 1000]."),
    task: Optional[str] = typer.Option(None, help="Scene name or .toml path [default: tabletop]."),
    pipeline: Optional[str] = typer.Option(None, help="Pipeline name or .toml path; flags override it."),
    cameras: Optional[str] = typer.Option(None, help="Comma-separated cameras, e.g. front,wrist [default: front]."),
    assets: Optional[str] = typer.Option(None, help="Folder with Menagerie-layout robot models."),
    address: Optional[str] = typer.Option(None, help="Join an existing Ray cluster (e.g. ray://host:10001 or auto)."),
    resume: bool = typer.Option(False, "--resume", help="Continue a stopped run in --out."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the statgen dataset in --out (never a folder that is not one)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress on stderr."),
) -> None:
    """Generate a dataset: shards/, index/, _run/ and dataset.json under --out."""
    from statgen.config import build_config, load_pipeline
    from statgen.orchestrate import generate as run

    values = load_pipeline(pipeline) if pipeline else {}
    if resume and not overwrite and robot is None and pipeline is None and out is not None:
        from statgen.orchestrate import config_of_run

        values = config_of_run(out)  # `--resume --out DIR` continues with the run's own config
    flags = dict(robot=robot, n=n, out=out, seed=seed, workers=workers, shard_size=shard_size, task=task, assets=assets, address=address)
    values.update({k: v for k, v in flags.items() if v is not None})
    if cameras is not None:
        values["cameras"] = tuple(c.strip() for c in cameras.split(",") if c.strip())
    values["resume"], values["overwrite"], values["progress"] = resume, overwrite, not quiet
    ds = run(build_config(values))
    out_dir = values.get("out") or f"data/{ds['robot']}"
    rate, acc, did = ds.get("samples_per_second"), ds["acceptance"], ds["run"]
    if did["already_complete"]:
        typer.echo(f"nothing to do: {ds['samples']} samples already complete in {out_dir} ({_shards(len(ds['shards']))}, checksums verified)")
        return
    wrote = f"wrote {did['written_samples']} samples in {_shards(did['written_shards'])}"
    if did["kept_shards"]:
        wrote = f"resumed {out_dir}: kept {did['kept_samples']} samples in {_shards(did['kept_shards'], 'finished ')}, {wrote}; {ds['samples']} samples in all"
    else:
        wrote += f" to {out_dir}"
    typer.echo(wrote + (f" at {rate:.1f} samples/s" if rate else "") + f" (accepted {acc['accepted']} of {acc['drawn']} draws)")


def _shards(k: int, kind: str = "") -> str:
    return f"{k} {kind}shard{'' if k == 1 else 's'}"


@app.command()
def verify(
    dataset: str = typer.Argument(..., help="Dataset folder, or an s3:// / gs:// prefix."),
    fk_samples: Optional[int] = typer.Option(None, help="Re-run FK on this many samples per shard (0 = all) [default: 0]."),
    no_fk: bool = typer.Option(False, "--no-fk", help="Skip the checks that need the robot model (FK, the seed re-draw)."),
    assets: Optional[str] = typer.Option(None, help="Folder with Menagerie-layout robot models."),
) -> None:
    """Re-read every shard: checksums, images, FK from qpos, the seed, dense unique keys. Exit 1 on any problem."""
    from statgen.verify import verify as run

    report = run(dataset, fk_samples=fk_samples, assets_dir=assets, fk=not no_fk)
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        raise SystemExit(1)


@app.command()
def preview(
    dataset: str = typer.Argument(..., help="Dataset folder, or an s3:// / gs:// prefix."),
    out: str = typer.Option("preview.png", "--out", help="Image to write: .png, .jpg, .jpeg or .webp."),
    count: int = typer.Option(16, help="How many samples (1 to 256)."),
    camera: str = typer.Option("front", help="Which camera."),
) -> None:
    """A contact sheet with the TCP and its axes drawn from the stored labels."""
    from statgen.preview import contact_sheet

    path = contact_sheet(dataset, out=Path(out), count=count, camera=camera)
    typer.echo(f"wrote {path}")


@app.command()
def robots() -> None:
    """List the robots, their model source, and whether the model is available here."""
    from statgen.robots import robot_table

    for line in robot_table():
        typer.echo(line)


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
        where = f"statgen {ctx.info_name} --help" if ctx is not None and ctx.parent is not None else "statgen --help"
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

"""`strongroom backup DEST`, `strongroom backup verify DEST`, `strongroom restore DEST --data-dir NEW`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from strongroom.cli import AddrOpt, ConfigOpt, DataDirOpt, JsonOpt, TokenOpt, Vault
from strongroom.config import load_settings
from strongroom.core import errors


@contextmanager
def _bar(label: str, quiet: bool) -> Iterator[tuple[Callable[[int, int], None], Callable[[int], None]]]:
    """A rich progress bar on stderr (bytes), fed by the service's ``on_total`` and ``progress`` callbacks."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not console.is_terminal,  # a bar on a terminal; nothing in a pipe or a log
        transient=False,
    )
    task = progress.add_task(label, total=None)

    def on_total(blobs: int, size: int) -> None:
        progress.update(task, total=size, description=f"{label} ({blobs} blobs)")

    def advance(n: int) -> None:
        progress.advance(task, n)

    with progress:
        yield on_total, advance


def backup(
    args: Annotated[
        list[str], typer.Argument(help="DEST (take a backup) or `verify DEST` (check one)", show_default=False)
    ],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Back up a running deployment into the new directory DEST, or check a backup: `backup verify DEST`.

    The copy is consistent and online (the server keeps serving writes); it stays ciphertext, as at rest, and holds
    neither the infrastructure root nor the keyfile seal's unseal key: keep those apart, `restore` asks for them.
    It also holds the vault's register of destroyed keys (an operator's vault token reads it: VAULT_TOKEN).
    `strongroom backup destroyed-keys` prints the live register (for restoring an older backup).
    """
    from strongroom.service import backup as svc

    if args == ["destroyed-keys"]:
        v = Vault(load_settings(config, data_dir=data_dir), vault_addr, token)
        typer.echo(json.dumps(v.call("GET", "strongroom/destroyed-keys")["data"], indent=2, sort_keys=True))
        return

    if len(args) == 2 and args[0] == "verify":
        dest = Path(args[1])
        try:
            with _bar("verifying", quiet or as_json) as (on_total, advance):
                problems = svc.verify(dest, on_total, advance)
        except errors.StrongroomError as exc:
            typer.echo(f"Error: {exc.message}", err=True)
            raise typer.Exit(1) from None
        if as_json:
            typer.echo(json.dumps({"ok": not problems, "problems": problems}, indent=2))
        elif problems:
            for p in problems:
                typer.echo(f"problem: {p}", err=True)
        if problems:
            if not as_json:
                typer.echo(f"Error: the backup at {dest} does not verify ({len(problems)} problems)", err=True)
            raise typer.Exit(1)
        if not as_json:
            typer.echo(f"backup {dest} verifies: every file matches its manifest")
        return
    if len(args) != 1:
        typer.echo("Error: usage: strongroom backup DEST | backup verify DEST | backup destroyed-keys", err=True)
        raise typer.Exit(2)
    dest = Path(args[0])
    settings = load_settings(config, data_dir=data_dir)
    vault = Vault(settings, vault_addr, token)
    try:
        with _bar("backing up", quiet or as_json) as (on_total, advance):
            manifest = svc.take(
                settings, dest, lambda: dict(vault.call("GET", "strongroom/destroyed-keys")["data"]), on_total, advance
            )
    except errors.StrongroomError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(manifest, indent=2, sort_keys=True))
        return
    blobs = manifest["blobs"]
    typer.echo(
        f"backup written to {dest.resolve()}: database ({manifest['database']['kind']}), {blobs['count']} blobs, "
        f"{blobs['bytes']} bytes; snapshot at {manifest['snapshot_at']}"
    )
    typer.echo("keep the infrastructure root (and a keyfile seal's unseal key) apart: a restore needs them")


def restore(
    source: Annotated[Path, typer.Argument(help="the backup directory", show_default=False)],
    data_dir: Annotated[Path, typer.Option("--data-dir", help="the new, empty data directory")],
    config: ConfigOpt = None,
    infra_root_file: Annotated[
        Path | None, typer.Option("--infra-root-file", help="the backed-up deployment's infrastructure root")
    ] = None,
    unseal_key_file: Annotated[
        Path | None, typer.Option("--unseal-key-file", help="keyfile seal only: the backed-up vault's unseal key")
    ] = None,
    destroyed_keys: Annotated[
        Path | None,
        typer.Option(
            "--destroyed-keys",
            help="a newer register of destroyed keys (`strongroom backup destroyed-keys`, or a newer backup's)",
        ),
    ] = None,
    newest: Annotated[
        bool, typer.Option("--newest", help="this backup is the newest state there is (no newer register exists)")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Restore a backup into a new, empty data directory (and, with PostgreSQL, an empty database).

    The backup is verified first. A key destroyed after the backup was taken must not come back: pass the newest
    register of destroyed keys (--destroyed-keys), or --newest. Start the restored deployment with
    `strongroom serve --data-dir NEW`; a Shamir vault then needs its unseal shares, an HSM-sealed one its HSM.
    """
    from strongroom.service import backup as svc

    settings = load_settings(config, data_dir=data_dir)
    try:
        with _bar("restoring", quiet) as (on_total, advance):
            manifest = svc.restore(
                source, settings, infra_root_file, unseal_key_file, destroyed_keys, newest, on_total, advance
            )
    except errors.StrongroomError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    blobs = manifest["blobs"]
    typer.echo(
        f"restored {source} into {settings.data_dir}: {blobs['count']} blobs, {blobs['bytes']} bytes "
        f"(snapshot of {manifest['snapshot_at']}); start it with `strongroom serve --data-dir {settings.data_dir}`"
    )

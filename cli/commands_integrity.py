"""Tamper evidence: verify, checkpoint, keygen, prove."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.app import cli
from cli.context import Env, json_option, pass_env, print_json
from cli.output import Output, OutputError, check_new_file, reason
from ledger import verification
from ledger.errors import LedgerConfigError

if TYPE_CHECKING:
    from ledger.checkpoint import Signer
    from ledger.service import Ledger

# The service (pydantic, the event catalogue), ledger.integrity and
# ledger.checkpoint (cryptography) are imported by the commands that use them:
# `verify` on a small SQLite ledger reads it without them
# (ledger/store/quick_verify.py), in about the time Python, click and SQLite
# take to start.


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerConfigError(
            f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}"
        ) from None


@cli.command()
@click.option(
    "--checkpoint",
    "checkpoint_file",
    metavar="FILE",
    help="A published signed checkpoint to check.",
)
@click.option(
    "--key",
    "key_file",
    metavar="PUB",
    help="The verifier key (file) the checkpoint is signed with.",
)
@json_option
@pass_env
def verify(env: Env, checkpoint_file: str | None, key_file: str | None, as_json: bool) -> None:
    """Recompute every leaf hash, tree node and checkpoint root from the stored events.

    Exit 0 when the ledger is intact; exit 1 naming the first bad position and
    what is wrong. With --checkpoint and --key, also check a published signed
    checkpoint: its signature, its root at its size, and consistency to now.

    \\b
    Examples:
      policy-ledger verify
      policy-ledger verify --checkpoint published.txt --key watchdog.pub
    """
    if bool(checkpoint_file) != bool(key_file):
        raise click.UsageError("--checkpoint and --key go together")

    def run(store: verification.VerifyStore) -> verification.VerifyReport:
        total = store.head()
        if sys.stderr.isatty() and not as_json and total > 20_000:
            with click.progressbar(length=total, label="verifying", file=sys.stderr) as bar:
                return verification.verify_ledger(store, progress=bar.update)
        return verification.verify_ledger(store)

    report = None
    if not checkpoint_file:  # a published checkpoint's signature needs the service's path
        from ledger.store import quick_verify

        report = quick_verify.answer(env.db, env.user, run)
    published = None
    if report is None:
        ledger = env.ledger()
        report = run(ledger.store)
        if report.intact and checkpoint_file and key_file:
            from ledger import integrity
            from ledger.checkpoint import parse_verifier

            verifier = parse_verifier(_read_text(key_file, "key").strip())
            published = integrity.check_published(
                ledger.store, _read_text(checkpoint_file, "checkpoint"), verifier
            )
    if as_json:
        print_json({**report.to_json(), "published_checkpoint": published})
    elif report.intact:
        click.echo(
            f"intact: {report.checked} events, root {report.root}, {report.checkpoints} checkpoints checked"
        )
        if published:
            click.echo(
                f"published checkpoint {published['origin']} at size {published['size']} matches, "
                f"and the ledger extends it consistently to size {published['current_size']}"
            )
    if not report.intact:
        raise click.ClickException(f"position {report.position}: {report.problem}")


def _checkpoint_text(ledger: Ledger, signer: Signer | None) -> str:
    """The text make_checkpoint will record for the tree as it stands (signatures are
    deterministic: Ed25519)."""
    from ledger import integrity
    from ledger.checkpoint import Checkpoint, sign_checkpoint

    size, root = integrity.tree_root(ledger.store)
    checkpoint = Checkpoint(origin=ledger.origin, size=size, root=root)
    return sign_checkpoint(checkpoint, signer) if signer is not None else checkpoint.body()


def _checkpoint_to_file(ledger: Ledger, signer: Signer | None, output: str) -> dict[str, Any]:
    """Record a checkpoint and write it to OUTPUT: both or neither.

    The file is made ready first (the path checked, the text written to a temporary
    file beside it and synced), so every way writing can fail happens before the
    checkpoint is recorded; the row is recorded next, and then the file is put in
    place with one rename. Should that rename still fail (the folder was checked and
    the bytes are on disk, so hardly ever), the error says the checkpoint was recorded:
    asking again returns the same checkpoint while the log has not grown. A FIFO or a
    device is opened before recording and written after it (it cannot be prepared).
    """
    from ledger import integrity

    with Output(output) as out:
        if not out.direct:
            text = _checkpoint_text(ledger, signer)
            out.write(text.encode("utf-8"))
            out.sync()
        made = integrity.make_checkpoint(ledger.store, ledger.origin, ledger.clock(), signer)
        try:
            if out.direct:
                out.write(made["text"].encode("utf-8"))
            elif made["text"] != text:  # another writer appended in between: a new tree
                out.restart()
                out.write(made["text"].encode("utf-8"))
            out.commit()
        except OutputError as exc:
            raise OutputError(
                output,
                f"{exc.why} (the checkpoint of size {made['size']} was recorded in the ledger; "
                "run the command again to write it)",
            ) from None
    return made


@cli.command()
@click.option(
    "--sign", "key_file", metavar="KEY", help="Sign with this private key file (see keygen)."
)
@click.option("-o", "--output", metavar="FILE", help="Also write the checkpoint text to FILE.")
@json_option
@pass_env
def checkpoint(env: Env, key_file: str | None, output: str | None, as_json: bool) -> None:
    """Record a checkpoint of the current tree (size, root, time) and print it (C2SP tlog-checkpoint).

    Publish the printed text (a website, a newspaper, a tweet): anyone holding
    it can later check that the ledger still extends it.

    \\b
    Examples:
      policy-ledger checkpoint
      policy-ledger checkpoint --sign watchdog.key -o checkpoint.txt
    """
    from ledger import integrity
    from ledger.checkpoint import parse_signer

    ledger = env.ledger()
    signer = parse_signer(_read_text(key_file, "key").strip()) if key_file else None
    if output:
        made = _checkpoint_to_file(ledger, signer, output)
    else:
        made = integrity.make_checkpoint(ledger.store, ledger.origin, ledger.clock(), signer)
    if as_json:
        print_json(made)
    else:
        click.echo(made["text"], nl=False)


@cli.command()
@click.option(
    "--name",
    metavar="NAME",
    help="Key name; default the ledger's origin (checkpoints are signed under it).",
)
@click.option(
    "-o",
    "--output",
    "prefix",
    required=True,
    metavar="PREFIX",
    help="Writes PREFIX.key and PREFIX.pub.",
)
@pass_env
def keygen(env: Env, name: str | None, prefix: str) -> None:
    """Write an Ed25519 key pair for signing checkpoints (Go sumdb/note key format).

    \\b
    Example:
      policy-ledger keygen -o watchdog      # watchdog.key (keep secret), watchdog.pub (publish)
    """
    from ledger.checkpoint import generate_key

    key_name = name or env.ledger().origin
    private, public = generate_key(key_name)
    secret = Path(f"{prefix}.key")
    if os.path.lexists(secret):
        raise click.ClickException(f"{secret} exists; not overwriting a key")
    check_new_file(str(secret))
    # The public key is made ready first (its path checked, written beside it), then the
    # private key created (only the owner may read it), then the public key put in place;
    # a failure on the way leaves neither.
    with Output(f"{prefix}.pub") as pub:
        pub.write((public + "\n").encode("utf-8"))
        try:
            fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise click.ClickException(f"{secret} exists; not overwriting a key") from None
        except OSError as exc:
            raise OutputError(str(secret), reason(exc)) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(private + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            pub.commit()
        except BaseException as exc:
            secret.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise OutputError(str(secret), reason(exc)) from None
            raise
    click.echo(
        f"wrote {secret} (private, keep it secret) and {prefix}.pub (publish it); key name {key_name}"
    )


@cli.group()
def prove() -> None:
    """RFC 9162 proofs that any Certificate-Transparency verifier can check.

    \b
    Examples:
      policy-ledger prove inclusion EVENT_ID --size 48 --json
      policy-ledger prove consistency 48 --json
    """


@prove.command("inclusion")
@click.argument("event_id")
@click.option(
    "--size", type=click.IntRange(min=1), help="Tree size to prove against (default: now)."
)
@json_option
@pass_env
def prove_inclusion(env: Env, event_id: str, size: int | None, as_json: bool) -> None:
    """Prove that EVENT_ID is in the tree of SIZE events.

    \\b
    Example:
      policy-ledger prove inclusion 5dc0e476-b6fe-5c3e-a574-1a9898d1fcd6 --json
    """
    from ledger import integrity

    proof = integrity.prove_inclusion(env.ledger().store, event_id, size)
    if as_json:
        print_json(proof)
        return
    click.echo(
        f"event {event_id} is leaf {proof['leaf_index']} of the tree of size {proof['tree_size']}"
    )
    click.echo(f"leaf hash {proof['leaf_hash']}\nroot      {proof['root']}")
    for step in proof["path"]:
        click.echo(f"  {step}")


@prove.command("consistency")
@click.argument("old", type=click.IntRange(min=0))
@click.argument("new", type=click.IntRange(min=0), required=False)
@json_option
@pass_env
def prove_consistency(env: Env, old: int, new: int | None, as_json: bool) -> None:
    """Prove that the tree of OLD events is a prefix of the tree of NEW (default: now).

    \\b
    Example:
      policy-ledger prove consistency 48 --json
    """
    from ledger import integrity

    proof = integrity.prove_consistency(env.ledger().store, old, new)
    if as_json:
        print_json(proof)
        return
    click.echo(f"size {proof['old_size']} root {proof['old_root']}")
    click.echo(f"size {proof['new_size']} root {proof['new_root']}")
    for step in proof["proof"]:
        click.echo(f"  {step}")

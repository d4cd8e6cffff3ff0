"""The tree head a report shows: the view's size and root, and a published checkpoint
checked against the events.

The report holds no keys, so it names who signed a checkpoint without checking
the signatures; it does check that the checkpoint's root is the root of the
ledger's first `size` events, which needs no key at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.checkpoint import SIGNATURE_PREFIX, Checkpoint, CheckpointError, parse_checkpoint
from ledger.merkle import root_of
from ledger.records import StoredEvent


@dataclass(frozen=True)
class CheckedCheckpoint:
    """A checkpoint note as given, what it says, and whether this ledger agrees."""

    note: str
    checkpoint: Checkpoint
    signers: list[str]
    log_size: int
    # None when the ledger holds fewer events than the checkpoint counts.
    matches: bool | None

    @property
    def root_hex(self) -> str:
        """The checkpoint's root in the ledger's hex form."""
        return self.checkpoint.root.hex()


def check_checkpoint(note: str, events: Sequence[StoredEvent]) -> CheckedCheckpoint:
    """Read a checkpoint (signed or not) and compare its root with the events' (position order)."""
    text, signers = _split(note)
    checkpoint = parse_checkpoint(text)
    matches: bool | None = None
    if checkpoint.size <= len(events):
        _, root = root_of(e.leaf_hash for e in events[: checkpoint.size])
        matches = root == checkpoint.root.hex()
    return CheckedCheckpoint(note, checkpoint, signers, len(events), matches)


def _split(note: str) -> tuple[str, list[str]]:
    """The checkpoint text and the key names on the signature lines (none when unsigned)."""
    split = note.rfind("\n\n")
    if split < 0:
        return note, []
    text, block = note[: split + 1], note[split + 2 :]
    signers = []
    for line in block.splitlines():
        if not line.startswith(SIGNATURE_PREFIX):
            raise CheckpointError(
                f"malformed note: signature line {line[:40]!r} must start with '— '"
            )
        signers.append(line[len(SIGNATURE_PREFIX) :].partition(" ")[0])
    return text, signers

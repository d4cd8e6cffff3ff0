"""Checkpoints and signed notes: C2SP tlog-checkpoint and signed-note, Ed25519 (spec section 4).

A checkpoint is the text of a tree head, three or more lines, each ending in a newline:

    watchdog.example/kr-ai                          origin: names the log
    42                                              tree size, decimal, no leading zero
    47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=    root hash, standard base64 of 32 bytes
    [extension lines]                               optional, non-empty (not recommended)

A signed note is a text ending in a newline, a blank line, then one or more lines
"— <key name> <base64(4-byte key ID ‖ Ed25519 signature of the text)>" (U+2014 em
dash). The text is everything before the last blank line, final newline included.
key ID = SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4]; key names are
non-empty and hold no whitespace and no '+'. Key strings are those of Go's
golang.org/x/mod/sumdb/note, so keys and notes work with its tools:

    verifier  <name>+<hex key ID>+<base64(0x01 ‖ public key)>
    signer    PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ 32-byte seed)>

Opening a note ignores signatures by unknown keys (name and key ID not both known),
rejects the whole note if a known key's signature fails, and rejects a note that no
known key signed. The origin must be unique to one ledger, since a verifier tells
logs apart by it; use a schema-less URL you control, such as
"watchdog.example/kr-ai". The log signs under a key named after its origin.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.errors import LedgerError

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "Signer",
    "Verifier",
    "check_key_name",
    "compute_key_id",
    "default_origin",
    "generate_key",
    "open_note",
    "parse_checkpoint",
    "parse_signer",
    "parse_verifier",
    "sign_checkpoint",
    "sign_note",
    "verify_checkpoint",
    "verify_note",
]

ED25519 = b"\x01"  # signature type identifier byte assigned by C2SP signed-note
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100  # the cap of Go's note.Open; the spec asks for at least 16
MAX_TREE_SIZE = 2**64 - 1
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)", re.ASCII)
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}", re.ASCII)


class CheckpointError(LedgerError):
    """A checkpoint, key or signed note that is malformed or does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's origin, its size and the RFC 9162 root at that size."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointError(f"checkpoint size must be an int, not {type(self.size).__name__}")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"checkpoint size {self.size} is out of range")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise CheckpointError("checkpoint root must be 32 bytes")
        for extension in self.extensions:
            _check_line(extension, "extension line")

    def body(self) -> str:
        """The tlog-checkpoint text, every line ending in a newline: what gets signed."""
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    def to_json(self) -> dict[str, object]:
        """`origin`, `size`, `root` as lowercase hex and `extensions` (usually empty)."""
        return {
            "origin": self.origin,
            "size": self.size,
            "root": self.root.hex(),
            "extensions": list(self.extensions),
        }


def parse_checkpoint(text: str) -> Checkpoint:
    """Read a checkpoint body, strictly: the exact bytes `Checkpoint.body` writes."""
    _check_note_chars(text, "checkpoint")
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"checkpoint needs origin, size and root lines, got {len(lines)}")
    for number, line in enumerate(lines, start=1):
        if not line:
            raise CheckpointError(f"checkpoint line {number} is empty")
    origin, size, root, *extensions = lines
    if not _DECIMAL.fullmatch(size):
        raise CheckpointError(f"checkpoint size {size!r} is not a decimal without leading zeros")
    root_bytes = _b64decode(root, "checkpoint root")
    if len(root_bytes) != 32:
        raise CheckpointError(f"checkpoint root is {len(root_bytes)} bytes, not 32")
    return Checkpoint(origin, int(size), root_bytes, tuple(extensions))


def default_origin(ledger_name: str) -> str:
    """The origin policy-ledger/<name>, for a ledger that has no URL-like name of its own."""
    return check_key_name(f"policy-ledger/{ledger_name}")


# -- keys ---------------------------------------------------------------------------------


def check_key_name(name: str) -> str:
    """The name itself, if it can name a key: non-empty, no whitespace, '+' or control character."""
    if not name:
        raise CheckpointError("key name must not be empty")
    for char in name:
        if char.isspace() or char == "+" or ord(char) < 0x20:
            raise CheckpointError(f"key name {name!r} must not contain {char!r}")
    _check_utf8(name, "key name")
    return name


def compute_key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name ‖ 0x0A ‖ 0x01 ‖ Ed25519 public key)[:4], as the spec recommends."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519 + public_key).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    """A trusted Ed25519 public key and the name it signs under."""

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.public_key) != 32:
            raise CheckpointError(f"Ed25519 public key is {len(self.public_key)} bytes, not 32")
        if self.key_id != compute_key_id(self.name, self.public_key):
            raise CheckpointError(f"key ID {self.key_id.hex()} does not match key {self.name}")

    def key_string(self) -> str:
        """<name>+<hex key ID>+<base64(0x01 ‖ public key)>."""
        return f"{self.name}+{self.key_id.hex()}+{_b64encode(ED25519 + self.public_key)}"

    def verifies(self, message: bytes, signature: bytes) -> bool:
        """Whether signature is this key's Ed25519 signature of message."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """An Ed25519 private key (its 32-byte seed) and the name it signs under."""

    name: str
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.seed) != 32:
            raise CheckpointError(f"Ed25519 seed is {len(self.seed)} bytes, not 32")

    def verifier(self) -> Verifier:
        """The public half, for whoever checks this signer's notes."""
        public_key = self._private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return Verifier(self.name, compute_key_id(self.name, public_key), public_key)

    def key_string(self) -> str:
        """PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ seed)>: a secret."""
        key_id = self.verifier().key_id.hex()
        return f"PRIVATE+KEY+{self.name}+{key_id}+{_b64encode(ED25519 + self.seed)}"

    def sign(self, message: bytes) -> bytes:
        """The Ed25519 signature of message."""
        return self._private_key().sign(message)

    def _private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)


def generate_key(name: str) -> tuple[str, str]:
    """A new (private key string, verifier key string) pair for name."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    signer = Signer(check_key_name(name), seed)
    return signer.key_string(), signer.verifier().key_string()


def parse_verifier(key: str) -> Verifier:
    """Read a verifier key string <name>+<hex key ID>+<base64(0x01 ‖ public key)>."""
    parts = key.strip().split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("verifier key must look like <name>+<hex key ID>+<base64 key>")
    name, key_id, encoded = parts
    key_bytes = _key_bytes(name, key_id, encoded, "verifier key")
    return Verifier(name, bytes.fromhex(key_id), key_bytes)  # Verifier checks the key ID


def parse_signer(key: str) -> Signer:
    """Read a private key string PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ seed)>."""
    parts = key.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise CheckpointError(
            "private key must look like PRIVATE+KEY+<name>+<hex key ID>+<base64 key>"
        )
    _, _, name, key_id, encoded = parts
    signer = Signer(name, _key_bytes(name, key_id, encoded, "private key"))
    if signer.verifier().key_id != bytes.fromhex(key_id):
        raise CheckpointError(f"private key {name}+{key_id.lower()}: key ID does not match the key")
    return signer


def _key_bytes(name: str, key_id: str, encoded: str, what: str) -> bytes:
    check_key_name(name)
    if not _KEY_ID_HEX.fullmatch(key_id):
        raise CheckpointError(f"{what} {name}: key ID {key_id!r} is not 8 hex digits")
    try:
        raw = _b64decode(encoded, f"{what} {name}")
    except CheckpointError:
        raise CheckpointError(f"{what} {name}: key is not canonical base64") from None  # no echo
    if raw[:1] != ED25519:
        raise CheckpointError(f"{what} {name}: not an Ed25519 key (type byte 0x01)")
    if len(raw) != 33:
        raise CheckpointError(f"{what} {name}: key is {len(raw) - 1} bytes, not 32")
    return raw[1:]


# -- signed notes -------------------------------------------------------------------------


def sign_note(text: str, signer: Signer, *cosigners: Signer) -> str:
    """The note: text, a blank line, then one signature line per signer."""
    _check_note_chars(text, "note text")
    if not text.endswith("\n"):
        raise CheckpointError("note text must end with a newline")
    message = text.encode("utf-8")
    lines = []
    for each in (signer, *cosigners):
        key_id = each.verifier().key_id
        lines.append(f"{SIGNATURE_PREFIX}{each.name} {_b64encode(key_id + each.sign(message))}\n")
    return text + "\n" + "".join(lines)


def open_note(note: str, verifiers: Iterable[Verifier]) -> tuple[str, list[str]]:
    """The note's text and the names of the trusted keys whose signatures verified."""
    known: dict[tuple[str, bytes], Verifier] = {}
    for verifier in verifiers:
        if known.setdefault((verifier.name, verifier.key_id), verifier) != verifier:
            raise CheckpointError(f"two trusted keys are both {_key_label(verifier)}")
    text, signatures = _split_note(note)
    message = text.encode("utf-8")
    verified: list[str] = []
    seen: set[tuple[str, bytes]] = set()
    unknown: list[str] = []
    for name, key_id, signature in signatures:
        trusted_key = known.get((name, key_id))
        if trusted_key is None:
            unknown.append(f"{name}+{key_id.hex()}")
            continue
        if (name, key_id) in seen:
            continue
        seen.add((name, key_id))
        if not trusted_key.verifies(message, signature):
            raise CheckpointError(f"signature by {_key_label(trusted_key)} does not verify")
        verified.append(name)
    if not verified:
        trusted = ", ".join(sorted(_key_label(v) for v in known.values())) or "none"
        raise CheckpointError(
            f"note has no signature by a trusted key (trusted: {trusted}; "
            f"signed by: {', '.join(unknown)})"
        )
    return text, verified


def verify_note(note: str, verifier: Verifier) -> str:
    """The note's text, if verifier's signature on it verifies."""
    text, _ = open_note(note, [verifier])
    return text


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The checkpoint as a note signed by the log, whose key is named after its origin."""
    if signer.name != checkpoint.origin:
        raise CheckpointError(
            f"key {signer.name!r} cannot sign for origin {checkpoint.origin!r}: the names differ"
        )
    return sign_note(checkpoint.body(), signer)


def verify_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """The checkpoint in a signed note, if verifier's signature on it verifies."""
    return parse_checkpoint(verify_note(note, verifier))


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    _check_note_chars(note, "note")
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("malformed note: no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise CheckpointError("malformed note: it must end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    return text, [_parse_signature_line(line) for line in lines]


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    if not line.startswith(SIGNATURE_PREFIX):
        raise CheckpointError(f"malformed note: signature line {line[:40]!r} must start with '— '")
    name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    try:
        check_key_name(name)
        raw = _b64decode(encoded, f"signature by {name}")
    except CheckpointError as error:
        raise CheckpointError(f"malformed note: {error}") from None
    if len(raw) < 5:
        raise CheckpointError(f"malformed note: signature by {name} is too short")
    return name, raw[:4], raw[4:]


# -- text ---------------------------------------------------------------------------------


def _key_label(verifier: Verifier) -> str:
    return f"{verifier.name}+{verifier.key_id.hex()}"


def _check_line(line: str, what: str) -> None:
    if not isinstance(line, str) or not line:
        raise CheckpointError(f"checkpoint {what} must be a non-empty string")
    if "\n" in line:
        raise CheckpointError(f"checkpoint {what} must not contain a newline")
    _check_note_chars(line, f"checkpoint {what}")


def _check_note_chars(text: str, what: str) -> None:
    """Notes are UTF-8 with no control characters but newline (C2SP signed-note, Format)."""
    for char in text:
        if ord(char) < 0x20 and char != "\n":
            raise CheckpointError(f"{what} contains control character U+{ord(char):04X}")
    _check_utf8(text, what)


def _check_utf8(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointError(f"{what} is not valid UTF-8") from None


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64, canonical only, so that one value has one spelling."""
    if not text:
        raise CheckpointError(f"{what} is empty")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{what} is not base64: {text[:60]!r}") from None
    if _b64encode(data) != text:
        raise CheckpointError(f"{what} is not canonical base64: {text[:60]!r}")
    return data

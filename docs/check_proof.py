#!/usr/bin/env python3
"""Check policy-ledger proofs by hand, with nothing but the Python standard library.

Uses only hashlib, json, sys and base64, so a reader can audit every line of it
and run it without installing policy-ledger. See docs/integrity.md.

    python docs/check_proof.py inclusion PROOF.json [--event LINE.json] [--root HEX] [--checkpoint FILE]
    python docs/check_proof.py consistency PROOF.json [--checkpoint OLD] [--new-checkpoint NEW]
    python docs/check_proof.py leaves EVENTS.ndjson [--checkpoint FILE]

PROOF.json is the output of `policy-ledger prove inclusion ID --json` or
`policy-ledger prove consistency OLD [NEW] --json`; LINE.json is one line of
`policy-ledger export-events`; EVENTS.ndjson is the whole of it. A file name
`-` reads standard input.

- inclusion: the RFC 9162 (2.1.3.2) check that `path` leads from `leaf_hash`
  at `leaf_index` to `root` in a tree of `tree_size` leaves. --event also
  recomputes the leaf hash from the event's fields; --root / --checkpoint
  demand that `root` (and the size) be the one you trust.
- consistency: the RFC 9162 (2.1.4.2) check that the tree (`old_size`,
  `old_root`) is a prefix of (`new_size`, `new_root`). --checkpoint demands
  that the old tree be the one in a checkpoint you kept, --new-checkpoint that
  the new one be the one in a newer checkpoint.
- leaves: recomputes every line's leaf hash, prints `position hash` per line,
  and the root of the tree over them (with --checkpoint, also the root at the
  checkpoint's size).

A checkpoint FILE is the C2SP text `checkpoint` prints (origin, size, base64
root), signed or not. Its signature is NOT checked here (Ed25519 is not in the
standard library): check it with `policy-ledger verify --checkpoint FILE --key PUB`
or any C2SP signed-note verifier.

Prints `OK: ...` and exits 0, or `FAIL: ...` and exits 1; wrong usage exits 2.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys

USAGE = """\
  python docs/check_proof.py inclusion PROOF.json [--event LINE.json] [--root HEX] [--checkpoint FILE]
  python docs/check_proof.py consistency PROOF.json [--checkpoint OLD] [--new-checkpoint NEW]
  python docs/check_proof.py leaves EVENTS.ndjson [--checkpoint FILE]"""


class Fail(Exception):
    """The check failed (exit 1)."""


class Usage(Exception):
    """The command line is wrong (exit 2)."""


# --- RFC 8785 (JCS) for the JSON the ledger stores ------------------------------------
#
# The ledger stores objects, arrays, strings, integers, booleans and null, never
# floats. For those, RFC 8785 comes down to: no whitespace; integers in plain
# decimal; strings as ECMAScript's JSON.stringify writes them (below); object
# members sorted by their keys compared as arrays of UTF-16 code units.
#
# json.dumps(sort_keys=True) is NOT enough: it sorts keys by code point, and a
# key with a character above U+FFFF (stored as a surrogate pair D800-DBFF) must
# sort before a key with a character in U+E000-U+FFFF. Comparing the UTF-16-BE
# encodings byte by byte compares code units, as RFC 8785 3.2.3 asks.

_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_MAX_SAFE_INTEGER = 2**53 - 1  # beyond this a JSON number is not an exact integer


def jcs_string(text: str) -> str:
    """A string as RFC 8785 3.2.2.2 (ECMAScript JSON.stringify) writes it."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif code < 0x20:
            out.append(f"\\u{code:04x}")  # other control characters: \u00XX, lowercase hex
        elif 0xD800 <= code <= 0xDFFF:
            raise Fail(f"a string holds a lone surrogate U+{code:04X}, which RFC 8785 forbids")
        else:
            out.append(char)  # everything else as itself, in UTF-8 (U+007F and U+2028 too)
    out.append('"')
    return "".join(out)


def jcs(value: object) -> str:
    """The RFC 8785 serialisation of a JSON value without floats."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise Fail(f"integer {value} is outside the range RFC 8785 can write exactly")
        return str(value)
    if isinstance(value, str):
        return jcs_string(value)
    if isinstance(value, list):
        return "[" + ",".join(jcs(item) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: key.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(jcs_string(key) + ":" + jcs(value[key]) for key in keys) + "}"
    raise Fail(f"a {type(value).__name__} has no place in a ledger event")


def load_json(text: str, what: str) -> object:
    """Strict JSON: no floats, NaN or Infinity, no duplicate keys."""

    def no_float(token: str) -> object:
        raise Fail(f"{what}: number {token} is not an integer; the ledger stores no floats")

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        result: dict[str, object] = {}
        for key, item in items:
            if key in result:
                raise Fail(f"{what}: key {key!r} appears twice in an object")
            result[key] = item
        return result

    try:
        return json.loads(
            text, parse_float=no_float, parse_constant=no_float, object_pairs_hook=pairs
        )
    except ValueError as exc:  # json.JSONDecodeError, or an integer too long to read
        raise Fail(f"{what} is not JSON the ledger writes ({exc})") from None


# --- hashes (RFC 9162 2.1) --------------------------------------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node: SHA-256(0x01 || left || right)."""
    return sha256(b"\x01" + left + right)


def event_leaf_hash(event: dict[str, object]) -> bytes:
    """SHA-256(0x00 || RFC 8785 bytes of the event minus position and leaf_hash)."""
    body = {key: value for key, value in event.items() if key not in ("position", "leaf_hash")}
    return sha256(b"\x00" + jcs(body).encode("utf-8"))


def tree_hash(leaves: list[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) straight from the definition (RFC 9162 2.1.1)."""
    n = end - start
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[start]
    k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two smaller than n
    return node_hash(tree_hash(leaves, start, start + k), tree_hash(leaves, start + k, end))


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 2.1.4.2, step by step (and the trivial cases it leaves out)."""
    if old_size > new_size:
        return False
    if old_size == new_size:  # nothing to prove: the same tree
        return not proof and old_root == new_root
    if old_size == 0:  # the empty tree is a prefix of every tree
        return not proof and old_root == sha256(b"")
    if not proof:
        return False
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


# --- reading the inputs -----------------------------------------------------------------


def read_text(name: str) -> str:
    try:
        if name == "-":
            return sys.stdin.buffer.read().decode("utf-8")
        with open(name, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise Usage(f"cannot read {name}: {exc}") from None


def ndjson_lines(text: str) -> list[str]:
    """Lines split at "\n" only: str.splitlines() would also split at U+2028, U+0085
    and other characters that the ledger writes unescaped inside JSON strings."""
    return text.split("\n")


def read_object(name: str, what: str) -> dict[str, object]:
    value = load_json(read_text(name), what)
    if not isinstance(value, dict):
        raise Fail(f"{what} is not a JSON object")
    return value


def field(document: dict[str, object], key: str, what: str) -> object:
    if key not in document:
        raise Fail(f"{what} has no {key!r}")
    return document[key]


def size_field(document: dict[str, object], key: str, what: str) -> int:
    value = field(document, key, what)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Fail(f"{what}: {key} must be a non-negative integer, not {value!r}")
    return value


def hash_value(value: object, what: str) -> bytes:
    """A hash as the ledger writes it: 64 lowercase hex digits."""
    if not isinstance(value, str) or len(value) != 64 or value.strip("0123456789abcdef"):
        raise Fail(f"{what} is not a SHA-256 hash in lowercase hex: {value!r}")
    return bytes.fromhex(value)


def hash_list(document: dict[str, object], key: str, what: str) -> list[bytes]:
    value = field(document, key, what)
    if not isinstance(value, list):
        raise Fail(f"{what}: {key} must be a list of hashes")
    return [hash_value(item, f"{what}: {key}[{i}]") for i, item in enumerate(value)]


def read_checkpoint(name: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a C2SP checkpoint; its signature lines are ignored."""
    text = read_text(name)
    body = text.split("\n\n", 1)[0]  # a signed note: the text is before the blank line
    lines = body.split("\n")
    if len(lines) < 3 or not lines[0]:
        raise Fail(f"{name} is not a checkpoint (origin, size and root lines)")
    origin, size, root = lines[0], lines[1], lines[2]
    if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise Fail(f"{name}: checkpoint size {size!r} is not a decimal number")
    try:
        root_bytes = base64.b64decode(root, validate=True)
    except ValueError:
        raise Fail(f"{name}: checkpoint root {root!r} is not base64") from None
    if len(root_bytes) != 32:
        raise Fail(f"{name}: checkpoint root is {len(root_bytes)} bytes, not 32")
    return origin, int(size), root_bytes


def options(args: list[str], allowed: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    positional: list[str] = []
    named: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            if arg not in allowed:
                raise Usage(f"unknown option {arg}")
            if i + 1 >= len(args):
                raise Usage(f"{arg} needs a value")
            named[arg] = args[i + 1]
            i += 2
        else:
            positional.append(arg)
            i += 1
    if len(positional) != 1:
        raise Usage("give exactly one input file")
    return positional, named


# --- the three checks -------------------------------------------------------------------


def check_inclusion(args: list[str]) -> str:
    (name,), named = options(args, ("--event", "--root", "--checkpoint"))
    what = "inclusion proof"
    proof = read_object(name, what)
    index = size_field(proof, "leaf_index", what)
    size = size_field(proof, "tree_size", what)
    leaf = hash_value(field(proof, "leaf_hash", what), f"{what}: leaf_hash")
    root = hash_value(field(proof, "root", what), f"{what}: root")
    path = hash_list(proof, "path", what)
    notes = []
    if "--event" in named:
        lines = [line for line in ndjson_lines(read_text(named["--event"])) if line.strip()]
        if len(lines) != 1:
            raise Usage("--event takes a file holding one export-events line")
        event = load_json(lines[0], "event line")
        if not isinstance(event, dict):
            raise Fail("the event line is not a JSON object")
        computed = event_leaf_hash(event)
        if event.get("leaf_hash") != computed.hex():
            raise Fail(
                f"the event's fields hash to {computed.hex()}, not its leaf_hash "
                f"{event.get('leaf_hash')}: the event was altered"
            )
        if computed != leaf:
            raise Fail(f"the event's leaf hash {computed.hex()} is not the proof's {leaf.hex()}")
        if event.get("position") != index + 1:
            raise Fail(
                f"the event is at position {event.get('position')}, "
                f"but the proof is for leaf {index} (position {index + 1})"
            )
        notes.append(f"event {event.get('id')} hashes to the proven leaf")
    if "--root" in named:
        trusted = hash_value(named["--root"], "--root")
        if trusted != root:
            raise Fail(f"the proof is against root {root.hex()}, not the trusted {trusted.hex()}")
        notes.append("the root is the trusted one")
    if "--checkpoint" in named:
        origin, cp_size, cp_root = read_checkpoint(named["--checkpoint"])
        if (cp_size, cp_root) != (size, root):
            raise Fail(
                f"the proof is for the tree of size {size} with root {root.hex()}, but the "
                f"checkpoint of {origin} has size {cp_size} and root {cp_root.hex()}"
            )
        notes.append(f"the tree is the one in the checkpoint of {origin} (signature not checked)")
    if not verify_inclusion(index, size, leaf, path, root):
        raise Fail(
            f"the path does not lead from leaf {index} to root {root.hex()} in a tree of size {size}"
        )
    summary = (
        f"leaf {index} (position {index + 1}) is in the tree of size {size}, root {root.hex()}"
    )
    return "; ".join([summary, *notes])


def check_consistency(args: list[str]) -> str:
    (name,), named = options(args, ("--checkpoint", "--new-checkpoint"))
    what = "consistency proof"
    proof = read_object(name, what)
    old_size = size_field(proof, "old_size", what)
    new_size = size_field(proof, "new_size", what)
    old_root = hash_value(field(proof, "old_root", what), f"{what}: old_root")
    new_root = hash_value(field(proof, "new_root", what), f"{what}: new_root")
    hashes = hash_list(proof, "proof", what)
    notes = []
    if "--checkpoint" in named:
        origin, cp_size, cp_root = read_checkpoint(named["--checkpoint"])
        if (cp_size, cp_root) != (old_size, old_root):
            raise Fail(
                f"the proof starts from the tree of size {old_size} with root {old_root.hex()}, "
                f"but the checkpoint of {origin} has size {cp_size} and root {cp_root.hex()}"
            )
        notes.append(
            f"the old tree is the one in the checkpoint of {origin} (signature not checked)"
        )
    if "--new-checkpoint" in named:
        origin, cp_size, cp_root = read_checkpoint(named["--new-checkpoint"])
        if (cp_size, cp_root) != (new_size, new_root):
            raise Fail(
                f"the proof ends at the tree of size {new_size} with root {new_root.hex()}, "
                f"but the checkpoint of {origin} has size {cp_size} and root {cp_root.hex()}"
            )
        notes.append(
            f"the new tree is the one in the checkpoint of {origin} (signature not checked)"
        )
    if not verify_consistency(old_size, new_size, old_root, new_root, hashes):
        raise Fail(
            f"the proof does not show that the tree of size {old_size} (root {old_root.hex()}) "
            f"is a prefix of the tree of size {new_size} (root {new_root.hex()})"
        )
    summary = (
        f"the tree of size {new_size} (root {new_root.hex()}) extends the tree of size "
        f"{old_size} (root {old_root.hex()})"
    )
    return "; ".join([summary, *notes])


def check_leaves(args: list[str]) -> str:
    (name,), named = options(args, ("--checkpoint",))
    leaves: list[bytes] = []
    for number, line in enumerate(ndjson_lines(read_text(name)), start=1):
        if not line.strip():
            continue
        event = load_json(line, f"line {number}")
        if not isinstance(event, dict):
            raise Fail(f"line {number} is not a JSON object")
        computed = event_leaf_hash(event)
        position = event.get("position")
        if position != len(leaves) + 1:
            raise Fail(f"line {number} holds position {position}, not {len(leaves) + 1}")
        print(f"{position} {computed.hex()}")
        if event.get("leaf_hash") != computed.hex():
            raise Fail(
                f"position {position}: the fields hash to {computed.hex()}, not its leaf_hash "
                f"{event.get('leaf_hash')}: the event was altered"
            )
        leaves.append(computed)
    notes = []
    if "--checkpoint" in named:
        origin, cp_size, cp_root = read_checkpoint(named["--checkpoint"])
        if cp_size > len(leaves):
            raise Fail(
                f"the checkpoint of {origin} covers {cp_size} events; the file has {len(leaves)}"
            )
        at_size = tree_hash(leaves, 0, cp_size)
        if at_size != cp_root:
            raise Fail(
                f"the first {cp_size} events have root {at_size.hex()}, but the checkpoint of "
                f"{origin} says {cp_root.hex()}: history before it was rewritten"
            )
        notes.append(
            f"the first {cp_size} match the checkpoint of {origin} (signature not checked)"
        )
    events = f"{len(leaves)} event{'' if len(leaves) == 1 else 's'}"
    root = tree_hash(leaves, 0, len(leaves)).hex()
    return "; ".join([f"{events}, every leaf hash matches; root {root}", *notes])


COMMANDS = {"inclusion": check_inclusion, "consistency": check_consistency, "leaves": check_leaves}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        print("usage:\n" + USAGE, file=sys.stderr)
        return 2
    try:
        message = COMMANDS[argv[1]](argv[2:])
    except Usage as exc:
        print(f"usage error: {exc}\nusage:\n{USAGE}", file=sys.stderr)
        return 2
    except Fail as exc:
        print(f"FAIL: {exc}")
        return 1
    print(f"OK: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

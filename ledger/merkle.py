"""The RFC 9162 Merkle tree hash over leaf hashes (spec section 4).

MTH({}) = SHA-256(); MTH(D[n]) = SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])) with k
the largest power of two below n. Leaves are already hashed (`leaf_hash`).
The root is computed streaming with a stack of at most log2(n) subtree hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_of(leaf_hashes: Iterable[str]) -> tuple[int, str]:
    """(size, root hex) of the tree over leaf hashes given in position order."""
    # stack holds (height, hash) of complete subtrees, largest first; merging
    # equal heights as leaves arrive keeps it at most log2(n) long.
    stack: list[tuple[int, bytes]] = []
    size = 0
    for leaf in leaf_hashes:
        size += 1
        height, digest = 0, bytes.fromhex(leaf)
        while stack and stack[-1][0] == height:
            _, left = stack.pop()
            digest = node_hash(left, digest)
            height += 1
        stack.append((height, digest))
    if not stack:
        return 0, EMPTY_ROOT
    # Fold the remaining subtrees right to left: a smaller right subtree joins
    # the larger one to its left, exactly as MTH splits at the largest power of two.
    _, digest = stack.pop()
    while stack:
        _, left = stack.pop()
        digest = node_hash(left, digest)
    return size, digest.hex()

"""The RFC 9162 Merkle tree over leaf hashes: roots, audit paths, verification (spec section 4).

MTH({}) = SHA-256(); MTH(D[n]) = SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])) with k
the largest power of two below n. Leaves are already hashed (`leaf_hash`).

Hashes are raw 32-byte `bytes` throughout; lowercase hex appears only in
`EMPTY_ROOT` and `root_of`, which read and write the hex the ledger stores.
Leaf index i is the event at `position` i + 1 (positions are 1-based).

Proofs are computed from subtree hashes, not leaves: `inclusion_proof` and
`consistency_proof` take `get_hash(start, end)`, the MTH of leaves [start, end),
and call it once per proof element, O(log n) times. `MerkleTree` supplies it in
memory; a persisted ledger supplies it from the layout below via `range_hash`.

Storage layout: perfect subtree hashes
--------------------------------------
Store one row per *perfect* subtree, keyed by (level, index): the MTH of the
2**level leaves [index * 2**level, (index + 1) * 2**level). Level 0 is the leaf
hashes themselves (a store may serve those from the events' `leaf_hash` column
rather than copy them). A row is written once, when its last leaf arrives, and
never changes: appending never alters an aligned complete subtree.

- Append (`nodes_added_by_append`): leaf i adds (0, i); while the node just
  added has an odd index it is a right child, so its parent is now complete and
  is added too, reading the left sibling. Leaf i adds 1 + (trailing one bits of
  i) rows, at most log2(n) + 1 and 2 on average; a tree of n leaves holds
  2n - popcount(n) rows.
- Any subtree the RFC 9162 algorithms name, including the root [0, n), is a
  range [start, end) whose start is a multiple of the largest power of two in
  its length. Its length in binary lists the perfect subtrees that tile it,
  largest first and each aligned; MTH is their right fold with `node_hash`
  (`range_hash`): at most log2(n) + 1 reads.
- Along an audit path only the sibling that hangs off the tree's right border
  is imperfect, so a whole inclusion or consistency proof takes O(log n) reads:
  pass `functools.partial(range_hash, get_node=read)` as `get_hash`.

Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step and
trusts nothing from the prover; every hash must be 32 bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()
HASH_SIZE = 32

SubtreeHash = Callable[[int, int], bytes]
"""`get_hash(start, end)`: the MTH of leaves [start, end)."""

NodeReader = Callable[[int, int], bytes]
"""`get_node(level, index)`: the stored hash of a perfect subtree."""

_EMPTY_HASH = bytes.fromhex(EMPTY_ROOT)


def leaf_hash(data: bytes) -> bytes:
    """A leaf: SHA-256(0x00 ‖ data)."""
    return hashlib.sha256(b"\x00" + data).digest()


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


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(index: int, size: int, get_hash: SubtreeHash) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 2.1.3.1, leaf's sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    siblings: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            siblings.append(get_hash(mid, end))
            end = mid
        else:
            siblings.append(get_hash(start, mid))
            start = mid
    siblings.reverse()
    return siblings


def consistency_proof(old_size: int, new_size: int, get_hash: SubtreeHash) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 2.1.4.1; empty when there is nothing to prove."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    # SUBPROOF unrolled: descend from the root towards the old tree's last
    # leaf, collecting siblings top-down; the output lists them bottom-up.
    collected: list[bytes] = []
    start, end, whole_old_tree = 0, new_size, True
    while old_size != end:
        mid = start + _split(end - start)
        if old_size <= mid:
            collected.append(get_hash(mid, end))
            end = mid
        else:
            collected.append(get_hash(start, mid))
            start, whole_old_tree = mid, False
    if not whole_old_tree:
        collected.append(get_hash(start, end))
    collected.reverse()
    return collected


def nodes_added_by_append(
    index: int, leaf: bytes, get_node: NodeReader
) -> list[tuple[int, int, bytes]]:
    """The (level, index, hash) rows to store when leaf `index` is appended after leaves [0, index)."""
    rows = [(0, index, leaf)]
    level, node, digest = 0, index, leaf
    while node & 1:
        digest = node_hash(get_node(level, node - 1), digest)
        level, node = level + 1, node >> 1
        rows.append((level, node, digest))
    return rows


def range_hash(start: int, end: int, get_node: NodeReader) -> bytes:
    """MTH of leaves [start, end) from stored perfect subtrees, for ranges that tile into aligned ones."""
    length = end - start
    if start < 0 or length < 0:
        raise ValueError(f"no leaf range [{start}, {end})")
    if length == 0:
        return _EMPTY_HASH
    if start % (1 << (length.bit_length() - 1)):
        raise ValueError(f"[{start}, {end}) is not a subtree of the log's tree")
    pieces: list[bytes] = []
    offset = start
    for level in range(length.bit_length() - 1, -1, -1):
        if length >> level & 1:
            pieces.append(get_node(level, offset >> level))
            offset += 1 << level
    digest = pieces.pop()
    while pieces:
        digest = node_hash(pieces.pop(), digest)
    return digest


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Whether `path` proves `leaf_hash` is leaf `index` of the tree of `size` with `root` (RFC 9162 2.1.3.2)."""
    if not _all_hashes(leaf_hash, root, *path):
        return False
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
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
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows the tree (`new_size`, `new_root`) extends (`old_size`, `old_root`) (RFC 9162 2.1.4.2).

    The RFC defines proofs for 0 < old_size < new_size. Outside that, the only
    acceptable proof is empty: equal sizes need equal roots, and the empty tree
    (whose root must be SHA-256 of nothing) is a prefix of every tree.
    """
    if not _all_hashes(old_root, new_root, *proof):
        return False
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == _EMPTY_HASH
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


def _all_hashes(*values: bytes) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)


class MerkleTree:
    """Leaf hashes held in memory, with aligned perfect subtrees memoised as they are first needed."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._leaves = list(leaf_hashes)
        # (level, index) -> MTH of a complete aligned subtree; appends never
        # change one, so the memo stays valid as the tree grows.
        self._perfect: dict[tuple[int, int], bytes] = {}

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._leaves)

    def append(self, leaf: bytes) -> int:
        """Add a leaf hash; returns its index."""
        self._leaves.append(leaf)
        return len(self._leaves) - 1

    def subtree_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end): O(log n) once the perfect subtrees it spans are memoised."""
        if not 0 <= start <= end <= len(self._leaves):
            raise ValueError(f"[{start}, {end}) is not within a tree of size {self.size}")
        length = end - start
        if length == 0:
            return _EMPTY_HASH
        if length & (length - 1) == 0 and start % length == 0:
            return self._perfect_hash(length.bit_length() - 1, start // length)
        mid = start + _split(length)
        return node_hash(self.subtree_hash(start, mid), self.subtree_hash(mid, end))

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first `size` leaves (all of them by default)."""
        return self.subtree_hash(0, self.size if size is None else size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path for leaf `index` in the tree of `size` leaves (all by default)."""
        return inclusion_proof(index, self.size if size is None else size, self.subtree_hash)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The consistency proof from `old_size` to `new_size` leaves (all by default)."""
        return consistency_proof(
            old_size, self.size if new_size is None else new_size, self.subtree_hash
        )

    def _perfect_hash(self, level: int, index: int) -> bytes:
        if level == 0:
            return self._leaves[index]
        key = (level, index)
        digest = self._perfect.get(key)
        if digest is None:
            left = self._perfect_hash(level - 1, 2 * index)
            digest = node_hash(left, self._perfect_hash(level - 1, 2 * index + 1))
            self._perfect[key] = digest
        return digest

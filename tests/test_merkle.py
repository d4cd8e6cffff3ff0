"""The RFC 9162 Merkle tree: reference vectors, and properties against a naive reading of the RFC."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Callable, Iterator
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_added_by_append,
    range_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# --- The naive tree, straight from RFC 9162 section 2.1 ----------------------


def naive_mth(d: list[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes, by the recursive definition."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return d[0]
    k = largest_power_of_two_below(n)
    return hashlib.sha256(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:])).digest()


def naive_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n])."""
    n = len(d)
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return [*naive_path(m, d[:k]), naive_mth(d[k:])]
    return [*naive_path(m - k, d[k:]), naive_mth(d[:k])]


def naive_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    n = len(d)
    if m == n:
        return [] if b else [naive_mth(d)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return [*naive_subproof(m, d[:k], b), naive_mth(d[k:])]
    return [*naive_subproof(m - k, d[k:], False), naive_mth(d[:k])]


def naive_proof(m: int, d: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) for 0 < m < n."""
    return naive_subproof(m, d, True)


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


# --- Helpers ------------------------------------------------------------------


def leaves_for(size: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(f"{salt}:{i}".encode()) for i in range(size)]


def stored_nodes(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """The perfect-subtree rows a ledger would hold after appending `leaves` one by one."""
    store: dict[tuple[int, int], bytes] = {}
    for index, leaf in enumerate(leaves):
        for level, node, digest in nodes_added_by_append(index, leaf, lambda lv, ix: store[lv, ix]):
            assert (level, node) not in store
            store[level, node] = digest
    return store


def reader(store: dict[tuple[int, int], bytes]) -> Callable[[int, int], bytes]:
    return lambda level, index: store[level, index]


def flip(digest: bytes, bit: int = 3) -> bytes:
    return bytes([digest[0] ^ (1 << bit)]) + digest[1:]


SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
EMPTY_HASH = bytes.fromhex(EMPTY_ROOT)

# --- Reference vectors (RFC 6962 reference hasher; transparency-dev/merkle) ---

CT_LEAF_DATA = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_LEAVES = [leaf_hash(bytes.fromhex(d)) for d in CT_LEAF_DATA]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, path)
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (old size, new size, proof)
CT_CONSISTENCY = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def test_empty_tree_hash_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_of([]) == (0, EMPTY_ROOT)
    assert MerkleTree().root().hex() == EMPTY_ROOT
    assert range_hash(0, 0, reader({})).hex() == EMPTY_ROOT


def test_empty_leaf_hash_matches_the_reference_hasher() -> None:
    expected = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert leaf_hash(b"").hex() == expected


def test_leaf_hash_matches_the_reference_hasher() -> None:
    expected = "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert leaf_hash(b"L123456").hex() == expected


def test_node_hash_matches_the_reference_hasher() -> None:
    expected = "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    assert node_hash(b"N123", b"N456").hex() == expected


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_reference_tree_roots_agree_everywhere(size: int) -> None:
    leaves = CT_LEAVES[:size]
    assert MerkleTree(CT_LEAVES).root(size).hex() == CT_ROOTS[size]
    assert root_of(leaf.hex() for leaf in leaves) == (size, CT_ROOTS[size])
    assert range_hash(0, size, reader(stored_nodes(leaves))).hex() == CT_ROOTS[size]
    assert naive_mth(leaves).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_reference_inclusion_proofs_are_computed_and_verify(
    index: int, size: int, path: list[str]
) -> None:
    expected = [bytes.fromhex(h) for h in path]
    root = bytes.fromhex(CT_ROOTS[size])
    assert MerkleTree(CT_LEAVES).inclusion_proof(index, size) == expected
    assert verify_inclusion(CT_LEAVES[index], index, size, expected, root)
    for probe in corrupt_inclusion(CT_LEAVES[index], index, size, expected, root):
        assert not verify_inclusion(*probe), probe


@pytest.mark.parametrize(("old_size", "new_size", "proof"), CT_CONSISTENCY)
def test_reference_consistency_proofs_are_computed_and_verify(
    old_size: int, new_size: int, proof: list[str]
) -> None:
    expected = [bytes.fromhex(h) for h in proof]
    old_root, new_root = bytes.fromhex(CT_ROOTS[old_size]), bytes.fromhex(CT_ROOTS[new_size])
    assert MerkleTree(CT_LEAVES).consistency_proof(old_size, new_size) == expected
    assert verify_consistency(old_size, new_size, old_root, new_root, expected)
    for probe in corrupt_consistency(old_size, new_size, old_root, new_root, expected):
        assert not verify_consistency(*probe), probe


# --- Tampering, after transparency-dev/merkle's corruption probes -------------

InclusionProbe = tuple[bytes, int, int, list[bytes], bytes]
ConsistencyProbe = tuple[int, int, bytes, bytes, list[bytes]]


def corrupt_inclusion(
    leaf: bytes, index: int, size: int, path: list[bytes], root: bytes
) -> Iterator[InclusionProbe]:
    """Every way of getting an inclusion proof slightly wrong."""
    for wrong_index in (index - 1, index + 1, index ^ 2, size):
        if wrong_index != index:
            yield leaf, wrong_index, size, path, root
    yield leaf, index, size * 2, path, root
    yield leaf, index, size // 2, path, root
    yield flip(leaf), index, size, path, root
    yield b"WrongLeaf", index, size, path, root
    yield leaf, index, size, path, EMPTY_HASH
    yield leaf, index, size, path, SOME_HASH
    yield leaf, index, size, path, flip(root)
    yield leaf, index, size, [*path, b""], root
    yield leaf, index, size, [*path, root], root
    yield leaf, index, size, [b"", *path], root
    yield leaf, index, size, [root, *path], root
    # One more level than the size allows, with a root to match.
    yield leaf, index, size, [*path, SOME_HASH], node_hash(SOME_HASH, root)
    for i in range(len(path)):
        yield leaf, index, size, [*path[:i], flip(path[i]), *path[i + 1 :]], root
    if path:
        yield leaf, index, size, path[:-1], root
        yield leaf, index, size, path[1:], root
    if len(path) > 1:
        yield leaf, index, size, [path[0], SOME_HASH, *path[1:]], root
        yield leaf, index, size, [path[1], path[0], *path[2:]], root


def corrupt_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> Iterator[ConsistencyProbe]:
    """Every way of getting a (non-trivial) consistency proof slightly wrong."""
    for wrong_old in (old_size - 1, old_size + 1, old_size ^ 2):
        yield wrong_old, new_size, old_root, new_root, proof
    yield old_size, new_size * 2, old_root, new_root, proof
    yield old_size, new_size // 2, old_root, new_root, proof
    yield old_size, new_size, b"WrongRoot", new_root, proof
    yield old_size, new_size, old_root, b"WrongRoot", proof
    yield old_size, new_size, flip(old_root), new_root, proof
    yield old_size, new_size, old_root, flip(new_root), proof
    yield old_size, new_size, new_root, old_root, proof
    yield old_size, new_size, old_root, new_root, []
    for extra in (b"", old_root, new_root, SOME_HASH):
        yield old_size, new_size, old_root, new_root, [*proof, extra]
    for extra in (b"", old_root, new_root, proof[0]):
        yield old_size, new_size, old_root, new_root, [extra, *proof]
    yield old_size, new_size, old_root, new_root, proof[:-1]
    # One more level than the sizes allow, with roots to match.
    higher_old, higher_new = node_hash(SOME_HASH, old_root), node_hash(SOME_HASH, new_root)
    yield old_size, new_size, higher_old, higher_new, [*proof, SOME_HASH]
    yield old_size, new_size, old_root, new_root, proof[1:]
    for i in range(len(proof)):
        tampered = [*proof[:i], flip(proof[i], 4), *proof[i + 1 :]]
        yield old_size, new_size, old_root, new_root, tampered
    if len(proof) > 1:
        yield old_size, new_size, old_root, new_root, [proof[1], proof[0], *proof[2:]]


# --- Properties against the naive tree -----------------------------------------

sizes = st.integers(min_value=1, max_value=300)
salts = st.integers(min_value=0, max_value=2**32)


@settings(max_examples=60, deadline=None)
@given(size=sizes, salt=salts)
def test_every_way_of_computing_the_root_agrees_with_the_naive_mth(size: int, salt: int) -> None:
    leaves = leaves_for(size, salt)
    expected = naive_mth(leaves)
    assert MerkleTree(leaves).root() == expected
    assert root_of(leaf.hex() for leaf in leaves) == (size, expected.hex())
    assert range_hash(0, size, reader(stored_nodes(leaves))) == expected


@settings(max_examples=80, deadline=None)
@given(size=sizes, salt=salts, data=st.data())
def test_inclusion_proofs_equal_the_naive_path_and_verify(
    size: int, salt: int, data: st.DataObject
) -> None:
    leaves = leaves_for(size, salt)
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    root = naive_mth(leaves)
    path = MerkleTree(leaves).inclusion_proof(index)
    assert path == naive_path(index, leaves)
    assert verify_inclusion(leaves[index], index, size, path, root)


@settings(max_examples=80, deadline=None)
@given(size=sizes, salt=salts, data=st.data())
def test_tampered_inclusion_proofs_fail(size: int, salt: int, data: st.DataObject) -> None:
    leaves = leaves_for(size, salt)
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    root = naive_mth(leaves)
    path = naive_path(index, leaves)
    for probe in corrupt_inclusion(leaves[index], index, size, path, root):
        assert not verify_inclusion(*probe), probe
    for other in range(size):
        if other != index:
            assert not verify_inclusion(leaves[other], index, size, path, root)


@settings(max_examples=80, deadline=None)
@given(size=st.integers(min_value=2, max_value=300), salt=salts, data=st.data())
def test_consistency_proofs_equal_the_naive_proof_and_verify(
    size: int, salt: int, data: st.DataObject
) -> None:
    leaves = leaves_for(size, salt)
    old_size = data.draw(st.integers(min_value=1, max_value=size - 1), label="old_size")
    old_root, new_root = naive_mth(leaves[:old_size]), naive_mth(leaves)
    proof = MerkleTree(leaves).consistency_proof(old_size)
    assert proof == naive_proof(old_size, leaves)
    assert verify_consistency(old_size, size, old_root, new_root, proof)


@settings(max_examples=80, deadline=None)
@given(size=st.integers(min_value=2, max_value=300), salt=salts, data=st.data())
def test_tampered_consistency_proofs_fail(size: int, salt: int, data: st.DataObject) -> None:
    leaves = leaves_for(size, salt)
    old_size = data.draw(st.integers(min_value=1, max_value=size - 1), label="old_size")
    old_root, new_root = naive_mth(leaves[:old_size]), naive_mth(leaves)
    proof = naive_proof(old_size, leaves)
    for probe in corrupt_consistency(old_size, size, old_root, new_root, proof):
        assert not verify_consistency(*probe), probe
    forked = [*leaves[: size - 1], leaf_hash(b"fork")]
    assert not verify_consistency(old_size, size, old_root, naive_mth(forked), proof)


@settings(max_examples=60, deadline=None)
@given(size=sizes, salt=salts, data=st.data())
def test_stored_nodes_give_the_same_roots_and_proofs_as_the_in_memory_tree(
    size: int, salt: int, data: st.DataObject
) -> None:
    leaves = leaves_for(size, salt)
    tree = MerkleTree(leaves)
    get_hash = partial(range_hash, get_node=reader(stored_nodes(leaves)))
    new_size = data.draw(st.integers(min_value=1, max_value=size), label="new_size")
    old_size = data.draw(st.integers(min_value=0, max_value=new_size), label="old_size")
    index = data.draw(st.integers(min_value=0, max_value=new_size - 1), label="index")
    assert get_hash(0, new_size) == tree.root(new_size) == naive_mth(leaves[:new_size])
    assert inclusion_proof(index, new_size, get_hash) == tree.inclusion_proof(index, new_size)
    assert consistency_proof(old_size, new_size, get_hash) == tree.consistency_proof(
        old_size, new_size
    )


@settings(max_examples=40, deadline=None)
@given(size=sizes, salt=salts)
def test_every_stored_node_is_the_mth_of_its_aligned_range(size: int, salt: int) -> None:
    leaves = leaves_for(size, salt)
    store = stored_nodes(leaves)
    assert len(store) == 2 * size - size.bit_count()
    for (level, index), digest in store.items():
        start = index << level
        assert start + (1 << level) <= size
        assert digest == naive_mth(leaves[start : start + (1 << level)])


# --- Cost ---------------------------------------------------------------------


def test_an_append_adds_a_node_per_completed_subtree() -> None:
    reads: list[tuple[int, int]] = []
    store: dict[tuple[int, int], bytes] = {}

    def get_node(level: int, index: int) -> bytes:
        reads.append((level, index))
        return store[level, index]

    for index, leaf in enumerate(leaves_for(1000)):
        reads.clear()
        rows = nodes_added_by_append(index, leaf, get_node)
        trailing_ones = (index ^ (index + 1)).bit_length() - 1
        assert len(rows) == 1 + trailing_ones
        assert len(reads) == trailing_ones
        store.update(((level, node), digest) for level, node, digest in rows)
    assert len(store) == 2 * 1000 - (1000).bit_count()


def test_proofs_from_stored_nodes_read_logarithmically_many_nodes() -> None:
    store = stored_nodes(leaves_for(300))
    reads = 0

    def get_node(level: int, index: int) -> bytes:
        nonlocal reads
        reads += 1
        return store[level, index]

    get_hash = partial(range_hash, get_node=get_node)
    for size in range(1, 301):
        # Every sibling but the one off the right border is a single perfect node.
        bound = 2 * (size - 1).bit_length()
        for index in range(size):
            reads = 0
            inclusion_proof(index, size, get_hash)
            assert reads <= bound, (index, size)
        for old_size in range(size + 1):
            reads = 0
            consistency_proof(old_size, size, get_hash)
            assert reads <= bound, (old_size, size)
        reads = 0
        get_hash(0, size)
        assert reads == size.bit_count()


def test_proofs_ask_for_one_subtree_hash_per_element() -> None:
    tree = MerkleTree(leaves_for(300))
    calls: list[tuple[int, int]] = []

    def get_hash(start: int, end: int) -> bytes:
        calls.append((start, end))
        return tree.subtree_hash(start, end)

    for size, index, old_size in ((300, 0, 1), (300, 299, 299), (257, 128, 200), (64, 17, 32)):
        calls.clear()
        assert len(inclusion_proof(index, size, get_hash)) == len(calls)
        calls.clear()
        assert len(consistency_proof(old_size, size, get_hash)) == len(calls)


def test_root_of_streams_in_bounded_memory() -> None:
    count = 50_000
    hexes = (hashlib.sha256(i.to_bytes(4, "big")).hexdigest() for i in range(count))
    tracemalloc.start()
    try:
        size, _ = root_of(hexes)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == count
    assert peak < 64 * 1024  # holding the leaves would take megabytes


def test_the_in_memory_tree_keeps_its_memo_valid_as_it_grows() -> None:
    leaves = leaves_for(40)
    tree = MerkleTree(leaves[:13])
    early = [tree.root(n) for n in range(14)]
    for leaf in leaves[13:]:
        tree.append(leaf)
        assert tree.root() == naive_mth(leaves[: tree.size])
    assert [tree.root(n) for n in range(14)] == early
    assert tree.subtree_hash(3, 17) == naive_mth(leaves[3:17])  # unaligned ranges still work


# --- Edges ----------------------------------------------------------------------


def test_equal_sizes_are_consistent_only_with_an_empty_proof_and_equal_roots() -> None:
    root = naive_mth(leaves_for(5))
    assert consistency_proof(5, 5, MerkleTree(leaves_for(5)).subtree_hash) == []
    assert verify_consistency(5, 5, root, root, [])
    assert not verify_consistency(5, 5, root, flip(root), [])
    assert not verify_consistency(5, 5, root, root, [root])


def test_the_empty_tree_is_a_prefix_of_every_tree() -> None:
    root = naive_mth(leaves_for(5))
    assert consistency_proof(0, 5, MerkleTree(leaves_for(5)).subtree_hash) == []
    assert verify_consistency(0, 5, EMPTY_HASH, root, [])
    assert verify_consistency(0, 0, EMPTY_HASH, EMPTY_HASH, [])
    assert not verify_consistency(0, 5, SOME_HASH, root, [])
    assert not verify_consistency(0, 5, EMPTY_HASH, root, [EMPTY_HASH])


def test_sizes_that_go_backwards_are_rejected() -> None:
    tree = MerkleTree(leaves_for(8))
    with pytest.raises(ValueError):
        tree.consistency_proof(5, 4)
    with pytest.raises(ValueError):
        tree.consistency_proof(-1, 4)
    assert not verify_consistency(5, 4, tree.root(5), tree.root(4), tree.consistency_proof(4, 5))


def test_a_leaf_outside_the_tree_has_no_inclusion_proof() -> None:
    tree = MerkleTree(leaves_for(8))
    for index, size in ((8, 8), (-1, 8), (0, 0)):
        with pytest.raises(ValueError):
            tree.inclusion_proof(index, size)
    assert not verify_inclusion(SOME_HASH, 0, 0, [], EMPTY_HASH)
    assert not verify_inclusion(SOME_HASH, -1, 1, [], SOME_HASH)


def test_a_single_leaf_tree_proves_its_leaf_with_an_empty_path() -> None:
    leaf = leaf_hash(b"data")
    assert MerkleTree([leaf]).inclusion_proof(0) == []
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], flip(leaf))
    assert not verify_inclusion(b"", 0, 1, [], b"")  # wrong hash size


def test_hashes_of_the_wrong_size_never_verify() -> None:
    leaves = leaves_for(5)
    tree = MerkleTree(leaves)
    path = tree.inclusion_proof(2)
    assert not verify_inclusion(leaves[2][:31], 2, 5, path, tree.root())
    assert not verify_inclusion(leaves[2], 2, 5, [*path[:-1], path[-1] + b"\x00"], tree.root())
    proof = tree.consistency_proof(3)
    assert not verify_consistency(3, 5, tree.root(3), tree.root() + b"\x00", proof)


def test_range_hash_refuses_ranges_that_are_not_subtrees_of_the_log() -> None:
    get_node = reader(stored_nodes(leaves_for(16)))
    for start, end in ((1, 3), (2, 6), (4, 13), (3, 2), (-1, 1)):
        with pytest.raises(ValueError):
            range_hash(start, end, get_node)
    assert range_hash(8, 14, get_node) == naive_mth(leaves_for(16)[8:14])

"""Checkpoints (C2SP tlog-checkpoint) and signed notes (C2SP signed-note) with Ed25519."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    Verifier,
    check_key_name,
    compute_key_id,
    default_origin,
    generate_key,
    open_note,
    parse_checkpoint,
    parse_signer,
    parse_verifier,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
    verify_note,
)
from ledger.errors import LedgerError

# The example key and note of golang.org/x/mod/sumdb/note (note.go package docs and
# note_test.go TestSign / TestOpen): Ed25519 is deterministic, so signing must
# reproduce the published signature line byte for byte.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)

# The example checkpoint of C2SP tlog-checkpoint (its key is not published).
SOFA_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SOFA_NOTE = (
    SOFA_BODY + "\n\u2014 example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)

ORIGIN = "watchdog.example/kr-ai"
EMPTY_ROOT = hashlib.sha256(b"").digest()
ROOT = bytes(range(32))


@pytest.fixture(scope="module")
def log_key() -> tuple[Signer, Verifier]:
    private, public = generate_key(ORIGIN)
    return parse_signer(private), parse_verifier(public)


def key_string_with_matching_id(name: str, key: bytes) -> str:
    key_id = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    return f"{name}+{key_id.hex()}+{base64.b64encode(key).decode()}"


def signed(checkpoint: Checkpoint, key: tuple[Signer, Verifier]) -> str:
    return sign_checkpoint(checkpoint, key[0])


# -- checkpoint bodies --------------------------------------------------------------------


def test_body_of_a_known_checkpoint_is_byte_exact() -> None:
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    assert body == "watchdog.example/kr-ai\n3\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"


def test_body_of_the_empty_tree_has_size_zero_and_the_hash_of_nothing() -> None:
    body = Checkpoint(ORIGIN, 0, EMPTY_ROOT).body()
    assert body == "watchdog.example/kr-ai\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"


def test_extension_lines_follow_the_root_each_ending_in_newline() -> None:
    body = Checkpoint(ORIGIN, 1, ROOT, ("ext one", "ext two")).body()
    assert body.endswith("Hh8=\next one\next two\n")


@pytest.mark.parametrize(
    "checkpoint",
    [
        Checkpoint(ORIGIN, 3, ROOT),
        Checkpoint(ORIGIN, 0, EMPTY_ROOT),
        Checkpoint(ORIGIN, 2**64 - 1, ROOT, ("x", "— y +z")),
    ],
)
def test_parsing_a_body_gives_back_the_checkpoint(checkpoint: Checkpoint) -> None:
    assert parse_checkpoint(checkpoint.body()) == checkpoint


def test_the_spec_example_checkpoint_parses_and_round_trips() -> None:
    checkpoint = parse_checkpoint(SOFA_BODY)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.body() == SOFA_BODY


def test_json_form_has_the_root_in_lowercase_hex() -> None:
    assert Checkpoint(ORIGIN, 3, ROOT, ("e",)).to_json() == {
        "origin": ORIGIN,
        "size": 3,
        "root": ROOT.hex(),
        "extensions": ["e"],
    }


GOOD_ROOT = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"{ORIGIN}\n3\n{GOOD_ROOT}", "must end with a newline"),
        (f"{ORIGIN}\n03\n{GOOD_ROOT}\n", "leading zeros"),
        (f"{ORIGIN}\n00\n{GOOD_ROOT}\n", "leading zeros"),
        (f"{ORIGIN}\n-1\n{GOOD_ROOT}\n", "not a decimal"),
        (f"{ORIGIN}\n+3\n{GOOD_ROOT}\n", "not a decimal"),
        (f"{ORIGIN}\n 3\n{GOOD_ROOT}\n", "not a decimal"),
        (f"{ORIGIN}\n1_0\n{GOOD_ROOT}\n", "not a decimal"),
        (f"{ORIGIN}\n\u0663\n{GOOD_ROOT}\n", "not a decimal"),
        (f"{ORIGIN}\n{2**64}\n{GOOD_ROOT}\n", "out of range"),
        (f"{ORIGIN}\n3\nnot base64!\n", "not base64"),
        (f"{ORIGIN}\n3\n{GOOD_ROOT[:-1]}\n", "not base64"),
        (f"{ORIGIN}\n3\n{base64.b64encode(ROOT[:31]).decode()}\n", "31 bytes, not 32"),
        (f"{ORIGIN}\n3\n{base64.b64encode(ROOT + b'!').decode()}\n", "33 bytes, not 32"),
        (f"{ORIGIN}\n3\n{GOOD_ROOT[:-2]}9=\n", "not canonical base64"),
        (f"{ORIGIN}\n3\n{GOOD_ROOT}\n\n", "line 4 is empty"),
        (f"{ORIGIN}\n\n3\n{GOOD_ROOT}\n", "line 2 is empty"),
        (f"\n{ORIGIN}\n3\n{GOOD_ROOT}\n", "line 1 is empty"),
        (f"{ORIGIN}\n3\n", "needs origin, size and root lines, got 2"),
        (f"{ORIGIN}\r\n3\r\n{GOOD_ROOT}\r\n", r"control character U\+000D"),
    ],
)
def test_malformed_checkpoints_are_rejected(text: str, reason: str) -> None:
    with pytest.raises(CheckpointError, match=reason):
        parse_checkpoint(text)


@pytest.mark.parametrize(
    ("origin", "size", "root", "reason"),
    [
        ("", 1, ROOT, "origin must be a non-empty string"),
        ("a\nb", 1, ROOT, "must not contain a newline"),
        (ORIGIN, -1, ROOT, "out of range"),
        (ORIGIN, True, ROOT, "must be an int"),
        (ORIGIN, 1, ROOT[:31], "32 bytes"),
    ],
)
def test_a_checkpoint_that_cannot_be_written_is_refused(
    origin: str, size: int, root: bytes, reason: str
) -> None:
    with pytest.raises(CheckpointError, match=reason):
        Checkpoint(origin, size, root)


def test_checkpoint_errors_are_ledger_errors() -> None:
    assert issubclass(CheckpointError, LedgerError)


def test_default_origin_names_the_ledger() -> None:
    assert default_origin("kr-ai") == "policy-ledger/kr-ai"
    with pytest.raises(CheckpointError, match="must not contain ' '"):
        default_origin("kr ai")


# -- keys ---------------------------------------------------------------------------------


def test_key_id_is_the_first_four_bytes_of_sha256_of_name_newline_type_and_key() -> None:
    verifier = parse_verifier(PETER_VKEY)
    by_hand = hashlib.sha256(b"PeterNeumann" + b"\x0a" + b"\x01" + verifier.public_key).digest()
    assert verifier.key_id == by_hand[:4] == bytes.fromhex("c74f20a3")
    assert compute_key_id("PeterNeumann", verifier.public_key) == by_hand[:4]


def test_the_go_private_key_string_gives_the_go_verifier_key_string() -> None:
    signer = parse_signer(PETER_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_string() == PETER_SKEY
    assert signer.verifier().key_string() == PETER_VKEY


def test_generated_key_strings_round_trip() -> None:
    private, public = generate_key(ORIGIN)
    assert private.startswith(f"PRIVATE+KEY+{ORIGIN}+")
    signer, verifier = parse_signer(private), parse_verifier(public)
    assert signer.key_string() == private
    assert verifier.key_string() == public
    assert signer.verifier() == verifier
    assert public.split("+")[1] == compute_key_id(ORIGIN, verifier.public_key).hex()


@pytest.mark.parametrize("name", ["", "has space", "a+b", "tab\there", "nbsp\u00a0", "ctl\x01"])
def test_key_names_with_whitespace_plus_or_nothing_are_refused(name: str) -> None:
    with pytest.raises(CheckpointError, match="key name"):
        generate_key(name)
    with pytest.raises(CheckpointError, match="key name"):
        check_key_name(name)


def test_every_truncation_or_altered_character_of_a_verifier_key_is_refused() -> None:
    # As golang.org/x/mod/sumdb/note TestNewVerifier does it.
    for start in range(len(PETER_VKEY)):
        for end in range(start + 1, len(PETER_VKEY) + 1):
            if (start, end) != (0, len(PETER_VKEY)):
                with pytest.raises(CheckpointError):
                    parse_verifier(PETER_VKEY[start:end])
    for i, char in enumerate(PETER_VKEY):
        with pytest.raises(CheckpointError):
            parse_verifier(PETER_VKEY[:i] + chr(ord(char) + 1) + PETER_VKEY[i + 1 :])


def test_every_truncation_or_altered_character_of_a_private_key_is_refused() -> None:
    for start in range(len(PETER_SKEY)):
        for end in range(start + 1, len(PETER_SKEY) + 1):
            if (start, end) != (0, len(PETER_SKEY)):
                with pytest.raises(CheckpointError):
                    parse_signer(PETER_SKEY[start:end])
    for i, char in enumerate(PETER_SKEY):
        with pytest.raises(CheckpointError):
            parse_signer(PETER_SKEY[:i] + chr(ord(char) + 1) + PETER_SKEY[i + 1 :])


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        # From TestNewVerifier, each with a matching key ID: a key of the wrong length
        # (whose base64 is not canonical, which Go tolerates and this module does not)
        # and an unknown type byte.
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "not canonical base64",
        ),
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not an Ed25519"),
        (key_string_with_matching_id("PeterNeumann", b"\x01" + bytes(33)), "33 bytes, not 32"),
        (key_string_with_matching_id("PeterNeumann", b"\x01" + bytes(31)), "31 bytes, not 32"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+0xc74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits"),
        ("PeterNeumann", "must look like"),
    ],
)
def test_malformed_verifier_keys_are_refused_with_the_reason(key: str, reason: str) -> None:
    with pytest.raises(CheckpointError, match=reason):
        parse_verifier(key)


def test_a_bad_private_key_is_refused_without_echoing_the_secret() -> None:
    secret = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKD"
    with pytest.raises(CheckpointError) as caught:
        parse_signer(f"PRIVATE+KEY+PeterNeumann+c74f20a3+{secret}")
    assert secret[:8] not in str(caught.value)
    assert secret[:8] not in repr(parse_signer(PETER_SKEY))


def test_a_private_key_whose_id_does_not_match_its_key_is_refused() -> None:
    with pytest.raises(CheckpointError, match="key ID does not match"):
        parse_signer(PETER_SKEY.replace("c74f20a3", "c74f20a4"))


# -- signed notes: the Go reference vectors -----------------------------------------------


def test_signing_the_go_example_reproduces_its_signature_line_byte_for_byte() -> None:
    note = sign_note(GO_TEXT, parse_signer(PETER_SKEY))
    assert note == GO_TEXT + "\n" + PETER_SIG
    assert note.encode("utf-8").split(b"\n")[3].startswith(b"\xe2\x80\x94 PeterNeumann ")


def test_the_go_example_note_opens_with_its_verifier_key() -> None:
    assert verify_note(GO_TEXT + "\n" + PETER_SIG, parse_verifier(PETER_VKEY)) == GO_TEXT


def test_signatures_by_unknown_keys_are_ignored() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(note, [parse_verifier(PETER_VKEY)]) == (GO_TEXT, ["PeterNeumann"])
    both = [parse_verifier(PETER_VKEY), parse_verifier(ENOCH_VKEY)]
    assert open_note(note, both) == (GO_TEXT, ["PeterNeumann", "EnochRoot"])


def test_a_note_signed_by_no_trusted_key_is_rejected() -> None:
    with pytest.raises(CheckpointError, match="no signature by a trusted key"):
        open_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    with pytest.raises(CheckpointError, match=r"signed by: example.com/behind-the-sofa\+"):
        open_note(SOFA_NOTE, [parse_verifier(PETER_VKEY)])


def test_a_failed_signature_by_a_known_key_rejects_the_whole_note() -> None:
    # TestOpen's invalid signature: "ABCD" spliced into the base64 at byte 60.
    raw = PETER_SIG.encode("utf-8")
    bad_sig = (raw[:60] + b"ABCD" + raw[60:]).decode("utf-8")
    note = GO_TEXT + "\n" + bad_sig + ENOCH_SIG
    verifiers = [parse_verifier(PETER_VKEY), parse_verifier(ENOCH_VKEY)]
    with pytest.raises(
        CheckpointError, match=r"signature by PeterNeumann\+c74f20a3 does not verify"
    ):
        open_note(note, verifiers)


def test_repeated_signatures_by_one_key_count_once() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG
    assert open_note(note, [parse_verifier(PETER_VKEY)])[1] == ["PeterNeumann"]


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name"),
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + PETER_SIG.replace("\u2014", "-"),
        GO_TEXT + "\n" + PETER_SIG * 101,
    ],
    ids=[
        "no-signatures",
        "blank-line-only",
        "no-final-newline",
        "control-character",
        "space-in-name",
        "unexpected-line",
        "hyphen-not-em-dash",
        "too-many-signatures",
    ],
)
def test_malformed_notes_are_rejected(note: str) -> None:
    with pytest.raises(CheckpointError, match=r"malformed note|control character"):
        open_note(note, [parse_verifier(PETER_VKEY)])


def test_two_different_trusted_keys_with_one_name_and_id_are_refused() -> None:
    peter = parse_verifier(PETER_VKEY)
    assert open_note(GO_TEXT + "\n" + PETER_SIG, [peter, peter])[1] == ["PeterNeumann"]
    with pytest.raises(CheckpointError, match="does not match"):
        Verifier(peter.name, peter.key_id, bytes(32))


@pytest.mark.parametrize("text", ["no newline", "", "bell\x07\n"])
def test_note_text_that_cannot_be_signed_is_refused(text: str) -> None:
    with pytest.raises(CheckpointError, match="note text"):
        sign_note(text, parse_signer(PETER_SKEY))


def test_cosigners_add_lines_after_the_first_signer() -> None:
    other = parse_signer(generate_key("witness.example/w1")[0])
    note = sign_note(GO_TEXT, parse_signer(PETER_SKEY), other)
    assert note.startswith(GO_TEXT + "\n" + PETER_SIG + "\u2014 witness.example/w1 ")
    assert open_note(note, [other.verifier()])[1] == ["witness.example/w1"]


# -- signed checkpoints -------------------------------------------------------------------


def test_a_signed_checkpoint_verifies_and_gives_back_the_checkpoint(
    log_key: tuple[Signer, Verifier],
) -> None:
    checkpoint = Checkpoint(ORIGIN, 42, ROOT)
    note = signed(checkpoint, log_key)
    assert note.startswith(checkpoint.body() + "\n\u2014 watchdog.example/kr-ai ")
    assert note.count("\n") == 5
    assert verify_checkpoint(note, log_key[1]) == checkpoint


def test_a_checkpoint_is_signed_only_by_a_key_named_after_its_origin(
    log_key: tuple[Signer, Verifier],
) -> None:
    with pytest.raises(CheckpointError, match="the names differ"):
        sign_checkpoint(Checkpoint("elsewhere.example/log", 1, ROOT), log_key[0])


def test_verification_fails_with_another_key_of_the_same_name(
    log_key: tuple[Signer, Verifier],
) -> None:
    note = signed(Checkpoint(ORIGIN, 42, ROOT), log_key)
    impostor = parse_verifier(generate_key(ORIGIN)[1])
    with pytest.raises(CheckpointError, match="no signature by a trusted key"):
        verify_checkpoint(note, impostor)


def test_verification_fails_with_a_key_of_another_name(log_key: tuple[Signer, Verifier]) -> None:
    note = signed(Checkpoint(ORIGIN, 42, ROOT), log_key)
    with pytest.raises(CheckpointError, match="no signature by a trusted key"):
        verify_checkpoint(note, parse_verifier(PETER_VKEY))


@pytest.mark.parametrize(
    "tampered",
    [
        Checkpoint(ORIGIN, 43, ROOT),
        Checkpoint(ORIGIN, 42, EMPTY_ROOT),
        Checkpoint("watchdog.example/kr-al", 42, ROOT),
        Checkpoint(ORIGIN, 42, ROOT, ("added extension",)),
    ],
    ids=["size", "root", "origin", "extension"],
)
def test_verification_fails_when_the_checkpoint_is_altered(
    log_key: tuple[Signer, Verifier], tampered: Checkpoint
) -> None:
    note = signed(Checkpoint(ORIGIN, 42, ROOT), log_key)
    forged = tampered.body() + note[note.rindex("\n\n") + 1 :]
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_checkpoint(forged, log_key[1])


def test_verification_fails_with_a_truncated_signature(log_key: tuple[Signer, Verifier]) -> None:
    note = signed(Checkpoint(ORIGIN, 42, ROOT), log_key)
    four_chars_short = note[:-5] + "\n"
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_checkpoint(four_chars_short, log_key[1])
    one_char_short = note[:-2] + "\n"
    with pytest.raises(CheckpointError, match="not base64"):
        verify_checkpoint(one_char_short, log_key[1])
    with pytest.raises(CheckpointError, match="too short"):
        verify_checkpoint(note[: note.rindex(" ") + 1] + "AAAA\n", log_key[1])


def test_a_signed_note_whose_text_is_not_a_checkpoint_is_rejected() -> None:
    with pytest.raises(CheckpointError, match="needs origin, size and root lines, got 2"):
        verify_checkpoint(GO_TEXT + "\n" + PETER_SIG, parse_verifier(PETER_VKEY))

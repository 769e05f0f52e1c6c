"""Receipts through the official SDK, checked by a verifier Airlock did not
write: a generated image's receipt (the `x-airlock-receipt` header of an
unchanged `openai` client's answer) is fetched, and its checkpoint's
Ed25519 signature, its inclusion proof and the image's digest are checked
here with only `hashlib` and `cryptography`, following the C2SP
signed-note and tlog-checkpoint specifications and RFC 9162. Then the
`airlock receipts verify` and `audit` commands are run as a user would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import urllib.request
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from conftest import _resolved_bin
from helpers import fetch_receipt, verifier_key

EM_DASH = "\u2014"


def open_checkpoint(note: str, key: str) -> tuple[str, int, bytes]:
    """The checkpoint's origin, size and root, once its signature by `key`
    (`name+hash+base64(0x01 || public key)`) verifies."""
    name, key_hash, encoded = key.split("+", 2)  # base64 may hold "+" too
    raw = base64.b64decode(encoded)
    assert raw[0] == 0x01, "an Ed25519 verifier key"
    public = raw[1:]
    # The key hash: SHA-256(name || "\n" || 0x01 || key), first 4 bytes.
    expected_hash = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    assert expected_hash.hex() == key_hash

    text, _, signatures = note.partition("\n\n")
    text += "\n"
    found = False
    for line in signatures.splitlines():
        dash, signer, signature = line.split(" ")
        assert dash == EM_DASH
        blob = base64.b64decode(signature)
        if signer == name and blob[:4] == expected_hash:
            Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], text.encode())
            found = True
    assert found, f"no signature by {name} on the checkpoint"
    origin, size, root = text.splitlines()[:3]
    assert origin == name
    return origin, int(size), base64.b64decode(root)


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def test_an_image_receipt_verifies_with_an_independent_verifier(openai_client, gateway, tmp_path):
    raw = openai_client.images.with_raw_response.generate(
        model="gpt-image-1", prompt="A lighthouse at dusk.", size="1024x1024"
    )
    image = raw.parse()
    assert image.data[0].b64_json
    receipt_id = raw.headers["x-airlock-receipt"]
    answer = raw.http_response.content
    receipt = fetch_receipt(gateway.url, receipt_id)
    key = verifier_key(gateway)

    origin, size, root = open_checkpoint(receipt["checkpoint"], key)
    entry = base64.b64decode(receipt["entry_base64"])
    assert json.loads(entry) == receipt["entry"]
    proof = [base64.b64decode(h) for h in receipt["inclusion_proof"]]
    assert verify_inclusion(leaf_hash(entry), receipt["leaf_index"], size, proof, root)
    assert receipt["entry"]["operation"] == "images.generations"
    assert receipt["entry"]["model"] == "gpt-image-1"
    assert receipt["entry"]["response_sha256"] == hashlib.sha256(answer).hexdigest()
    assert "lighthouse" not in entry.decode(), "the log holds digests, not prompts"

    # Tampering is caught: another leaf, another root, a forged signature.
    assert not verify_inclusion(leaf_hash(entry + b" "), receipt["leaf_index"], size, proof, root)
    forged = receipt["checkpoint"].replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    try:
        open_checkpoint(forged, key)
    except InvalidSignature:
        pass
    else:
        raise AssertionError("a checkpoint with another size kept its signature")

    # The same receipt, verified by Airlock's own command line, offline.
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_text(json.dumps(receipt))
    answer_file = tmp_path / "answer.json"
    answer_file.write_bytes(answer)
    binary = str(_resolved_bin())
    done = subprocess.run(
        [binary, "receipts", "verify", str(receipt_file), "--key", key,
         "--response", str(answer_file)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"receipt {receipt_id} verified" in done.stdout
    assert "response body: matches" in done.stdout
    answer_file.write_bytes(answer.replace(b"b64_json", b"B64_json"))
    done = subprocess.run(
        [binary, "receipts", "verify", str(receipt_file), "--key", key,
         "--response", str(answer_file)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    assert "response body's SHA-256" in done.stderr, done.stderr


def test_the_log_is_audited_between_two_checkpoints(openai_client, gateway, tmp_path):
    with urllib.request.urlopen(f"{gateway.url}/log/checkpoint", timeout=10) as response:
        old = response.read()
    saved = tmp_path / "checkpoint.txt"
    saved.write_bytes(old)
    first = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "one more"}]
    )
    receipt = fetch_receipt(gateway.url, first.headers["x-airlock-receipt"])
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_text(json.dumps(receipt))
    key = verifier_key(gateway)
    # The saved checkpoint stands for one anchored elsewhere: the log
    # extends it, and the receipt is in that same log.
    done = subprocess.run(
        [str(_resolved_bin()), "receipts", "audit", "--url", gateway.url,
         "--from-checkpoint", str(saved), "--key", key, "--save", str(saved),
         "--receipt", str(receipt_file)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "consistent:" in done.stdout
    assert f"receipt {receipt['id']} (entry {receipt['leaf_index']}) is in the same log" in done.stdout
    assert saved.read_bytes() != old, "the newer checkpoint was saved for next time"

    # A checkpoint from a different log (here: the old one with its root
    # changed, re-signed by nobody) is refused.
    lines = old.decode().split("\n")
    lines[2] = base64.b64encode(b"\x00" * 32).decode()
    saved.write_text("\n".join(lines))
    done = subprocess.run(
        [str(_resolved_bin()), "receipts", "audit", "--url", gateway.url,
         "--from-checkpoint", str(saved), "--key", key],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    assert "the old checkpoint does not verify" in done.stderr, done.stderr

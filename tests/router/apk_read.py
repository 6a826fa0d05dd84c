#!/usr/bin/env python3
"""An independent reader of APKv3 files (.apk packages, packages.adb indexes) and usign
signatures, for the tests: written from apk-tools' format docs (doc/apk-v3.5.scd,
apk-package(5)) and usign's file layout, sharing no code with the writer (.ci/feedtool).
Every read checks what apk would check: container and block framing, value bounds, the
signature against trusted keys (cryptography, not openssl), file hashes and data blocks.

  apk_read.py package FILE [--key PUB.pem]...   JSON: info, scripts, files (no contents)
  apk_read.py index FILE [--key PUB.pem]...     JSON: description, packages
  apk_read.py extract FILE ROOT                 writes the package's tree into ROOT
  apk_read.py usign-verify PUBKEY FILE SIGFILE  exit 0 when SIGFILE signs FILE
Exit status 1 with a message on any fault.
"""

import base64
import hashlib
import json
import os
import struct
import sys
import zlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519


class Bad(Exception):
    """The file is not what apk (or usign) would accept."""


# Schemas as apk-package(5) names the fields, in slot order (slot 1 first). A nested
# schema is a (name, kind) pair: kind "str", "int", "hex", "obj:<schema>", "arr:<schema>".
SCHEMAS = {
    "package": [("info", "obj:pkginfo"), ("paths", "arr:dir"), ("scripts", "obj:scripts"),
                ("triggers", "arr:str"), ("replaces-priority", "int")],
    "pkginfo": [("name", "str"), ("version", "str"), ("hashes", "hex"),
                ("description", "str"), ("arch", "str"), ("license", "str"),
                ("origin", "str"), ("maintainer", "str"), ("url", "str"),
                ("repo-commit", "hex"), ("build-time", "int"), ("installed-size", "int"),
                ("file-size", "int"), ("provider-priority", "int"),
                ("depends", "arr:dep"), ("provides", "arr:dep"), ("replaces", "arr:dep"),
                ("install-if", "arr:dep"), ("recommends", "arr:dep"), ("layer", "int"),
                ("tags", "arr:str")],
    "dep": [("name", "str"), ("version", "str"), ("match", "int")],
    "dir": [("name", "str"), ("acl", "obj:acl"), ("files", "arr:file")],
    "file": [("name", "str"), ("acl", "obj:acl"), ("size", "int"), ("mtime", "int"),
             ("hash", "hex"), ("target", "hex")],
    "acl": [("mode", "int"), ("user", "str"), ("group", "str"), ("xattrs", "arr:hex")],
    "scripts": [("trigger", "str"), ("pre-install", "str"), ("post-install", "str"),
                ("pre-deinstall", "str"), ("post-deinstall", "str"), ("pre-upgrade", "str"),
                ("post-upgrade", "str")],
    "index": [("description", "str"), ("packages", "arr:pkginfo"), ("pkgname-spec", "str")],
}
MAGIC_SCHEMA = {b"pckg": "package", b"indx": "index"}


class Adb:
    """The ADB block: a header and a tree of values addressed by offsets into it."""

    def __init__(self, raw):
        if len(raw) < 16:
            raise Bad("ADB block shorter than its header")
        compat, _version, _reserved, self.root = struct.unpack_from("<BBHI", raw)
        if compat != 0:
            raise Bad(f"ADB compat version {compat}")
        self.raw = raw
        self.spans = {}  # blob offset -> (start, end) of its bytes, for the uid check

    def at(self, off, n):
        if off + n > len(self.raw):
            raise Bad(f"value at {off} (+{n}) runs past the ADB block ({len(self.raw)})")
        return self.raw[off:off + n]

    def decode(self, val, kind):
        tag, off = val >> 28, val & 0x0FFFFFFF
        if tag == 0:
            if off not in (0, 1, 2):
                raise Bad(f"special value {off}")
            return None if off == 0 else off == 1
        if kind == "int":
            if tag == 1:
                return off
            if tag == 2:
                return struct.unpack("<I", self.at(off, 4))[0]
            if tag == 3:
                return struct.unpack("<Q", self.at(off, 8))[0]
            raise Bad(f"expected an int, found type {tag:#x}")
        if kind in ("str", "hex"):
            width = {8: 1, 9: 2, 10: 4}.get(tag)
            if not width:
                raise Bad(f"expected a blob, found type {tag:#x}")
            n = int.from_bytes(self.at(off, width), "little")
            data = self.at(off + width, n)
            self.spans[off] = (off + width, off + width + n)
            return data.decode() if kind == "str" else data
        container, _, schema = kind.partition(":")
        want = {"obj": 0xE, "arr": 0xD}[container]
        if tag != want:
            raise Bad(f"expected {container} {schema}, found type {tag:#x}")
        count = struct.unpack("<I", self.at(off, 4))[0]
        if count < 1:
            raise Bad("object or array with no count slot")
        slots = struct.unpack(f"<{count}I", self.at(off, 4 * count))[1:]
        if container == "arr":
            item = schema if schema in ("str", "hex") else f"obj:{schema}"
            return [self.decode(v, item) for v in slots]
        fields = SCHEMAS[schema]
        if len(slots) > len(fields):
            raise Bad(f"{schema} has {len(slots)} slots, the schema {len(fields)}")
        out = {}
        for (name, fkind), v in zip(fields, slots):
            if v != 0:
                out[name] = self.decode(v, fkind)
        return out


def blocks(data):
    """(type, payload) of each block, framing checked (sizes, 8-byte alignment)."""
    out, pos = [], 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise Bad("truncated block header")
        word = struct.unpack_from("<I", data, pos)[0]
        kind, size = word >> 30, word & 0x3FFFFFFF
        if kind == 3:
            raise Bad("extended blocks are not written by dyn53")
        if size < 4 or pos + size > len(data):
            raise Bad(f"block at {pos} has a bad size {size}")
        out.append((kind, data[pos + 4:pos + size]))
        pos += size
        pad = -pos % 8
        if data[pos:pos + pad] != bytes(pad):
            raise Bad("non-zero block padding")
        pos += pad
    return out


def key_id(public):
    point = public.public_bytes(serialization.Encoding.X962,
                                serialization.PublicFormat.UncompressedPoint)
    return hashlib.sha512(point).digest()[:16]


def load_keys(paths):
    keys = []
    for p in paths:
        with open(p, "rb") as f:
            k = serialization.load_pem_public_key(f.read())
        if not isinstance(k, ec.EllipticCurvePublicKey):
            raise Bad(f"{p}: not an EC public key")
        keys.append(k)
    return keys


def read(path, keys=()):
    """Reads and checks an APKv3 file. Returns (schema name, tree, signed_by, data blocks, adb)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"ADBd":
        try:
            data = zlib.decompress(data[4:], wbits=-15)
        except zlib.error as e:
            raise Bad(f"deflate stream: {e}") from None
    elif magic == b"ADBc":
        raise Bad("ADBc compression is not written by dyn53")
    elif magic != b"ADB.":
        raise Bad(f"not an ADB file (magic {magic!r})")
    if data[:4] != b"ADB.":
        raise Bad("no ADB. header after the compression marker")
    schema_magic = data[4:8]
    if schema_magic not in MAGIC_SCHEMA:
        raise Bad(f"unknown schema {schema_magic!r}")
    bl = blocks(data[8:])
    kinds = [k for k, _ in bl]
    if not kinds or kinds[0] != 0 or kinds.count(0) != 1:
        raise Bad(f"the file must start with exactly one ADB block (blocks: {kinds})")
    n_sig = 1
    while n_sig < len(kinds) and kinds[n_sig] == 1:
        n_sig += 1
    if any(k != 2 for k in kinds[n_sig:]):
        raise Bad(f"blocks out of order: {kinds}")
    adb_raw = bl[0][1]
    adb = Adb(adb_raw)
    tree = adb.decode(adb.root, f"obj:{MAGIC_SCHEMA[schema_magic]}")
    digest = hashlib.sha512(adb_raw).digest()
    signed_by = []
    for _, sig in bl[1:n_sig]:
        if len(sig) < 18 or sig[0] != 0:
            raise Bad("signature block of an unknown version")
        if sig[1] != 4:
            raise Bad(f"signature hash algorithm {sig[1]} (dyn53 signs with SHA-512)")
        for k in keys:
            if key_id(k) != sig[2:18]:
                continue
            msg = schema_magic + sig[:18] + digest
            try:
                k.verify(sig[18:], msg, ec.ECDSA(hashes.SHA512()))
            except InvalidSignature:
                raise Bad("signature does not verify with the trusted key") from None
            signed_by.append(sig[2:18].hex())
    if keys and not signed_by:
        raise Bad("no signature by a trusted key")
    data_blocks = [struct.unpack_from("<II", p) + (p[8:],) for k, p in bl[n_sig:]]
    return MAGIC_SCHEMA[schema_magic], tree, signed_by, data_blocks, adb


def package(path, keys=()):
    """A package, every hash and data block checked: (info, scripts, files, signed_by, adb)."""
    schema, tree, signed_by, data_blocks, adb = read(path, keys)
    if schema != "package":
        raise Bad(f"{path}: an {schema}, not a package")
    info = tree.get("info") or {}
    # The unique id: SHA-256 of the ADB block with the id zeroed, truncated to 20 bytes.
    uid = info.get("hashes", b"")
    start = next((s for s, e in adb.spans.values() if adb.raw[s:e] == uid and e - s == 20), None)
    if start is None:
        raise Bad("package has no 20-byte unique id")
    zeroed = adb.raw[:start] + bytes(20) + adb.raw[start + 20:]
    if hashlib.sha256(zeroed).digest()[:20] != uid:
        raise Bad("unique id does not match the ADB block")
    files, expected = {}, []
    for di, d in enumerate(tree.get("paths", []), 1):
        dname = d.get("name", "")
        files[dname + "/"] = {"type": "dir", "mode": d.get("acl", {}).get("mode")}
        for fi, f in enumerate(d.get("files", []), 1):
            path_ = f"{dname}/{f['name']}" if dname else f["name"]
            files[path_] = {"type": "file", "mode": f["acl"]["mode"], "user": f["acl"]["user"],
                            "group": f["acl"]["group"], "size": f.get("size", 0),
                            "mtime": f.get("mtime"), "sha256": f.get("hash", b"").hex()}
            if f.get("size", 0):
                expected.append((di, fi, path_))
    if [(p, f) for p, f, _ in data_blocks] != [(p, f) for p, f, _ in expected]:
        raise Bad("data blocks do not match the non-empty files, in order")
    contents = {}
    for (_, _, body), (_, _, p) in zip(data_blocks, expected):
        meta = files[p]
        if len(body) != meta["size"] or hashlib.sha256(body).hexdigest() != meta["sha256"]:
            raise Bad(f"{p}: contents do not match size/sha256 in the ADB block")
        contents[p] = body
    for p, meta in files.items():
        if meta["type"] == "file" and not meta["size"]:
            if meta["sha256"] and meta["sha256"] != hashlib.sha256(b"").hexdigest():
                raise Bad(f"{p}: empty file with a non-empty hash")
            contents[p] = b""
    if info.get("installed-size") != max(sum(len(c) for c in contents.values()), 1):
        raise Bad("installed-size is not the sum of the file sizes")
    return info, tree.get("scripts", {}), files, contents, signed_by


def index(path, keys=()):
    schema, tree, signed_by, data_blocks, _ = read(path, keys)
    if schema != "index" or data_blocks:
        raise Bad(f"{path}: not an index")
    return tree, signed_by


def adb_identity(path):
    """What an index entry's hashes must be: SHA-256 of the package's ADB block."""
    _, _, _, _, adb = read(path)
    return hashlib.sha256(adb.raw).hexdigest()


def usign_verify(pub_path, file_path, sig_path):
    def b64(p, size):
        with open(p, encoding="ascii") as f:
            lines = f.read().splitlines()
        if len(lines) < 2 or not lines[0].startswith("untrusted comment: "):
            raise Bad(f"{p}: no untrusted comment line")
        raw = base64.b64decode(lines[1], validate=True)
        if len(raw) != size or raw[:2] != b"Ed":
            raise Bad(f"{p}: not an ed25519 usign file")
        return raw

    pub, sig = b64(pub_path, 42), b64(sig_path, 74)
    if pub[2:10] != sig[2:10]:
        raise Bad("signature made by another key (fingerprints differ)")
    with open(file_path, "rb") as f:
        msg = f.read()
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(pub[10:]).verify(sig[10:], msg)
    except InvalidSignature:
        raise Bad("usign signature does not verify") from None
    return pub[2:10].hex()


def jsonable(x):
    if isinstance(x, bytes):
        return x.hex()
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [jsonable(v) for v in x]
    return x


def main(argv):
    cmd, args = argv[0], argv[1:]
    keys = [args[i + 1] for i, a in enumerate(args) if a == "--key"]
    plain = [a for i, a in enumerate(args) if a != "--key" and (i == 0 or args[i - 1] != "--key")]
    try:
        if cmd == "package":
            info, scripts, files, _, signed = package(plain[0], load_keys(keys))
            out = {"info": info, "scripts": scripts, "files": files, "signed_by": signed,
                   "identity": adb_identity(plain[0])}
        elif cmd == "index":
            tree, signed = index(plain[0], load_keys(keys))
            out = {"index": tree, "signed_by": signed}
        elif cmd == "extract":
            _, _, files, contents, _ = package(plain[0])
            for p, meta in sorted(files.items()):
                target = os.path.join(plain[1], p)
                if meta["type"] == "dir":
                    os.makedirs(target, exist_ok=True)
                    continue
                with open(target, "wb") as f:
                    f.write(contents[p])
                os.chmod(target, meta["mode"])
            return 0
        elif cmd == "usign-verify":
            print(usign_verify(*plain[:3]))
            return 0
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (Bad, OSError, ValueError, KeyError) as e:
        print(f"apk_read: {plain[0] if plain else ''}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(jsonable(out), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

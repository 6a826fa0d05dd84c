#!/usr/bin/env python3
"""Checks the .apk packages and both feeds that .ci/build-apk and .ci/build-feed wrote, with
the independent reader apk_read.py: structure, hashes, signatures, info fields, scripts,
the OpenWrt files (.list, .conffiles, .conffiles_static) and the opkg feed's index and usign
signature. Prints "  ok   ..." / "  FAIL ..." lines; exit status 1 if anything failed.

  apk_check.py REPO VERSION RELEASE EPOCH BIN_DIR UNSIGNED_DIR FEED_DIR
(BIN_DIR holds <rust-triple>/dyn53, the binaries the packages must carry)
"""

import gzip
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apk_read  # noqa: E402  (the reader next to this file)

REPO, VERSION, RELEASE, EPOCH, BIN_DIR, UNSIGNED, FEED = sys.argv[1:8]
EPOCH = int(EPOCH)
APKVER = f"{VERSION}-r{RELEASE}"
ARCH_BINARY = {
    "mipsel_24kc": "mipsel-unknown-linux-musl",
    "mips_24kc": "mips-unknown-linux-musl",
    "arm_cortex-a7_neon-vfpv4": "armv7-unknown-linux-musleabihf",
    "arm_cortex-a9_vfpv3-d16": "armv7-unknown-linux-musleabihf",
    "aarch64_cortex-a53": "aarch64-unknown-linux-musl",
    "aarch64_generic": "aarch64-unknown-linux-musl",
    "x86_64": "x86_64-unknown-linux-musl",
}
ENTWARE = ["mipsel-3.4", "armv7-3.2", "aarch64-3.10"]
# path -> (mode, repository file or None for the binary), as the .ipk carries them.
TREE = {
    "etc/config/dyn53": (0o600, "openwrt/files/dyn53.config"),
    "etc/hotplug.d/iface/95-dyn53": (0o644, "openwrt/files/dyn53.hotplug"),
    "etc/init.d/dyn53": (0o755, "openwrt/files/dyn53.init"),
    "lib/upgrade/keep.d/dyn53": (0o644, "openwrt/files/dyn53.keep"),
    "usr/bin/dyn53": (0o755, None),
    "usr/libexec/dyn53-run": (0o755, "openwrt/files/dyn53-run"),
}
APK_FILES = ["lib/apk/packages/dyn53.list", "lib/apk/packages/dyn53.conffiles",
             "lib/apk/packages/dyn53.conffiles_static"]
failed = 0


def ok(what, cond):
    global failed
    print(f"  {'ok  ' if cond else 'FAIL'} {what}")
    failed += 0 if cond else 1
    return cond


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def check_package(path, arch, keys):
    signed = bool(keys)
    try:
        info, scripts, files, contents, signed_by = apk_read.package(path, apk_read.load_keys(keys))
    except apk_read.Bad as e:
        ok(f"{path}: reads and verifies ({e})", False)
        return None
    ok("structure, unique id, file hashes and data blocks check out", True)
    if signed:
        ok("signed by the feed key", len(signed_by) == 1)
    else:
        try:
            apk_read.package(path, apk_read.load_keys([os.path.join(FEED, "keys/dyn53-apk.pem")]))
            ok("unsigned (make apk without DYN53_APK_KEY): a trusted key finds no signature", False)
        except apk_read.Bad as e:
            ok("unsigned (make apk without DYN53_APK_KEY): a trusted key finds no signature",
               "no signature" in str(e))
    want = {"name": "dyn53", "version": APKVER, "arch": arch, "license": "MIT", "origin": "dyn53"}
    ok(f"info name/version/arch/license/origin = {want}",
       {k: info.get(k) for k in want} == want)
    ok("info description, url, maintainer set; no depends (static binary)",
       all(info.get(k) for k in ("description", "url", "maintainer")) and "depends" not in info)
    ok(f"file name dyn53-{APKVER}.apk in folder {arch}",
       os.path.basename(path) == f"dyn53-{APKVER}.apk"
       and os.path.basename(os.path.dirname(path)) == arch)
    regular = {p: m for p, m in files.items() if m["type"] == "file"}
    ok("files: the .ipk's tree plus /lib/apk/packages/dyn53.{list,conffiles,conffiles_static}",
       sorted(regular) == sorted(list(TREE) + APK_FILES))
    bad = []
    for p, (mode, src) in TREE.items():
        m = regular.get(p, {})
        body = contents.get(p)
        expect = read_bytes(os.path.join(REPO, src)) if src else read_bytes(
            os.path.join(BIN_DIR, ARCH_BINARY[arch], "dyn53"))
        if m.get("mode") != mode or body != expect or m.get("user") != "root" \
                or m.get("mtime") != EPOCH:
            bad.append(p)
    ok("modes, root:root, mtime SOURCE_DATE_EPOCH, contents = repository files and "
       f"{ARCH_BINARY[arch]}/dyn53", not bad)
    listed = contents.get(APK_FILES[0], b"").decode()
    ok(".list: every file and link as /path, sorted (what default_postinst reads)",
       listed == "".join(f"/{p}\n" for p in sorted(TREE)))
    ok(".conffiles: /etc/config/dyn53", contents.get(APK_FILES[1]) == b"/etc/config/dyn53\n")
    digest = hashlib.sha256(contents.get("etc/config/dyn53", b"")).hexdigest()
    ok(".conffiles_static: /etc/config/dyn53 and its sha256",
       contents.get(APK_FILES[2]) == f"/etc/config/dyn53 {digest}\n".encode())
    ok("scripts: post-install, post-upgrade, pre-deinstall",
       sorted(scripts) == ["post-install", "post-upgrade", "pre-deinstall"])
    post = scripts.get("post-install", "")
    head = ('#!/bin/sh\n[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0\n'
            '[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0\n'
            '. "${IPKG_INSTROOT}/lib/functions.sh"\nexport root="${IPKG_INSTROOT}"\n'
            'export pkgname="dyn53"\nadd_group_and_user\ndefault_postinst\n')
    pkg = read_bytes(os.path.join(REPO, "openwrt/ipk/postinst-pkg")).decode().split("\n", 1)[1]
    ok("post-install: package-pack.mk's stanza (default_postinst), then postinst-pkg",
       post == head + pkg)
    ok("post-upgrade: #!/bin/sh, export PKG_UPGRADE=1, then the post-install body",
       scripts.get("post-upgrade") == "#!/bin/sh\nexport PKG_UPGRADE=1\n" + post.split("\n", 1)[1])
    ok("pre-deinstall: package-pack.mk's stanza calling default_prerm",
       scripts.get("pre-deinstall") == head.replace(
           '[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0\n', "").replace(
           "add_group_and_user\ndefault_postinst\n", "default_prerm\n"))
    return info


def check_index(dir_, arch, keys, pkg_info):
    path = os.path.join(dir_, "packages.adb")
    try:
        tree, signed_by = apk_read.index(path, apk_read.load_keys(keys))
    except apk_read.Bad as e:
        ok(f"apk index {path} reads and verifies ({e})", False)
        return
    ok("apk index packages.adb: signed by the feed key", len(signed_by) == 1)
    pkgs = tree.get("packages", [])
    apk = os.path.join(dir_, f"dyn53-{APKVER}.apk")
    entry = pkgs[0] if len(pkgs) == 1 else {}
    ok("index lists the one package with its info fields",
       {k: v for k, v in entry.items() if k not in ("hashes", "file-size")}
       == {k: v for k, v in (pkg_info or {}).items() if k != "hashes"})
    ok("index entry: file-size and hashes (SHA-256 of the package's ADB block) match the file",
       entry.get("file-size") == os.path.getsize(apk)
       and entry.get("hashes", b"").hex() == apk_read.adb_identity(apk))


def stanzas(text):
    out = []
    for block in text.strip("\n").split("\n\n"):
        fields, last = {}, None
        for line in block.split("\n"):
            if line.startswith(" ") and last:
                fields[last] += "\n" + line
            else:
                last, _, value = line.partition(": ")
                fields[last] = value
        out.append(fields)
    return out


def check_opkg(arch, pub):
    d = os.path.join(FEED, "opkg", arch)
    print(f"opkg feed {arch}")
    packages = read_bytes(os.path.join(d, "Packages"))
    ok("Packages.gz is Packages, gzipped",
       gzip.decompress(read_bytes(os.path.join(d, "Packages.gz"))) == packages)
    try:
        fp = apk_read.usign_verify(pub, os.path.join(d, "Packages"), os.path.join(d, "Packages.sig"))
        ok(f"Packages.sig: usign ed25519 signature by key {fp} (keys/{fp})",
           os.path.basename(pub) == fp)
    except apk_read.Bad as e:
        ok(f"Packages.sig verifies ({e})", False)
    tampered = os.path.join(d, "Packages.tampered")
    with open(tampered, "wb") as f:
        f.write(packages.replace(b"Size: ", b"Size: 1"))
    try:
        apk_read.usign_verify(pub, tampered, os.path.join(d, "Packages.sig"))
        ok("a changed Packages fails the signature check", False)
    except apk_read.Bad:
        ok("a changed Packages fails the signature check", True)
    os.remove(tampered)
    st = stanzas(packages.decode())
    s = st[0] if len(st) == 1 else {}
    ipk = os.path.join(d, s.get("Filename", "-"))
    ok(f"one stanza: Package dyn53, Version {VERSION}-{RELEASE}, Architecture {arch}",
       (s.get("Package"), s.get("Version"), s.get("Architecture"))
       == ("dyn53", f"{VERSION}-{RELEASE}", arch))
    ok("Filename is in the feed, Size and SHA256sum match it",
       os.path.isfile(ipk) and s.get("Size") == str(os.path.getsize(ipk))
       and s.get("SHA256sum") == hashlib.sha256(read_bytes(ipk)).hexdigest())


def main():
    keys = [os.path.join(FEED, "keys", "dyn53-apk.pem")]
    pubs = [os.path.join(FEED, "keys", f) for f in os.listdir(os.path.join(FEED, "keys"))
            if f != "dyn53-apk.pem"]
    ok("feed keys: dyn53-apk.pem and one usign public key", os.path.isfile(keys[0]) and len(pubs) == 1)
    for arch in sorted(ARCH_BINARY):
        print(f"make apk: {arch} (unsigned)")
        check_package(os.path.join(UNSIGNED, arch, f"dyn53-{APKVER}.apk"), arch, [])
        print(f"make feed: {arch} (apk repository)")
        d = os.path.join(FEED, "apk", arch)
        info = check_package(os.path.join(d, f"dyn53-{APKVER}.apk"), arch, keys)
        check_index(d, arch, keys, info)
    for arch in sorted(ARCH_BINARY) + ENTWARE:
        check_opkg(arch, pubs[0] if pubs else "-")
    print("tampering")
    d = os.path.join(FEED, "apk", "x86_64")
    good = read_bytes(os.path.join(d, f"dyn53-{APKVER}.apk"))
    raw = bytearray(__import__("zlib").decompress(good[4:], -15))
    raw[raw.find(b"dyn53") + 1] ^= 1  # a byte of the signed ADB block
    bad = os.path.join(os.path.dirname(d), "tampered.apk")
    with open(bad, "wb") as f:
        f.write(b"ADB." + bytes(raw[4:]))
    try:
        apk_read.package(bad, apk_read.load_keys(keys))
        ok("a package changed after signing is refused", False)
    except apk_read.Bad as e:
        ok(f"a package changed after signing is refused ({e})", True)
    os.remove(bad)
    print(f"apk_check.py: {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

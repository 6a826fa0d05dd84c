#!/usr/bin/env python3
"""Checks the .apk packages and both feeds that .ci/build-apk and .ci/build-feed wrote, with
the independent reader apk_read.py: structure, hashes, signatures, info fields, scripts,
the OpenWrt files (.list, .conffiles, .conffiles_static) and the opkg feed's index and usign
signature; for dyn53 and for the noarch LuCI page luci-app-dyn53 next to it. Prints "  ok   ..." / "  FAIL ..." lines; exit status 1 if anything failed.

  apk_check.py REPO VERSION RELEASE EPOCH BIN_DIR UNSIGNED_DIR FEED_DIR
(BIN_DIR holds <rust-triple>/dyn53, the binaries the packages must carry)
"""

import gzip
import hashlib
import io
import os
import sys
import tarfile

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
    "usr/libexec/dyn53-lan.sh": (0o644, "openwrt/files/dyn53-lan.sh"),
    "usr/libexec/dyn53-run": (0o755, "openwrt/files/dyn53-run"),
}
APK_FILES = ["lib/apk/packages/dyn53.list", "lib/apk/packages/dyn53.conffiles",
             "lib/apk/packages/dyn53.conffiles_static"]
# luci-app-dyn53: path -> repository file (all 0644), as luci.mk installs htdocs/ and root/.
LUCI_SRC = "openwrt/luci-app-dyn53"
LUCI_TREE = {
    "usr/share/luci/menu.d/luci-app-dyn53.json":
        f"{LUCI_SRC}/root/usr/share/luci/menu.d/luci-app-dyn53.json",
    "usr/share/rpcd/acl.d/luci-app-dyn53.json":
        f"{LUCI_SRC}/root/usr/share/rpcd/acl.d/luci-app-dyn53.json",
    "www/luci-static/resources/view/dyn53/config.js":
        f"{LUCI_SRC}/htdocs/luci-static/resources/view/dyn53/config.js",
}
LUCI_APK = f"luci-app-dyn53-{APKVER}.apk"
LUCI_IPK = f"luci-app-dyn53_{VERSION}-{RELEASE}_all.ipk"
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
    check_scripts(scripts, "dyn53", "openwrt/ipk/postinst-pkg")
    return info


def check_scripts(scripts, name, postinst_pkg):
    """The post-install, post-upgrade and pre-deinstall package-pack.mk writes for name."""
    ok("scripts: post-install, post-upgrade, pre-deinstall",
       sorted(scripts) == ["post-install", "post-upgrade", "pre-deinstall"])
    post = scripts.get("post-install", "")
    head = ('#!/bin/sh\n[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0\n'
            '[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0\n'
            '. "${IPKG_INSTROOT}/lib/functions.sh"\nexport root="${IPKG_INSTROOT}"\n'
            f'export pkgname="{name}"\nadd_group_and_user\ndefault_postinst\n')
    pkg = read_bytes(os.path.join(REPO, postinst_pkg)).decode().split("\n", 1)[1]
    ok(f"post-install: package-pack.mk's stanza (default_postinst), then {postinst_pkg}",
       post == head + pkg)
    ok("post-upgrade: #!/bin/sh, export PKG_UPGRADE=1, then the post-install body",
       scripts.get("post-upgrade") == "#!/bin/sh\nexport PKG_UPGRADE=1\n" + post.split("\n", 1)[1])
    ok("pre-deinstall: package-pack.mk's stanza calling default_prerm",
       scripts.get("pre-deinstall") == head.replace(
           '[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0\n', "").replace(
           "add_group_and_user\ndefault_postinst\n", "default_prerm\n"))


def check_luci_package(path, keys):
    """luci-app-dyn53's .apk: noarch, depends on dyn53 and luci-base, the page's files."""
    try:
        info, scripts, files, contents, signed_by = apk_read.package(path, apk_read.load_keys(keys))
    except apk_read.Bad as e:
        ok(f"{path}: reads and verifies ({e})", False)
        return None
    ok(f"{LUCI_APK}: structure, hashes and data blocks check out"
       + (", signed by the feed key" if keys else ""), not keys or len(signed_by) == 1)
    want = {"name": "luci-app-dyn53", "version": APKVER, "arch": "noarch", "license": "MIT",
            "origin": "luci-app-dyn53"}
    ok(f"info {want}", {k: info.get(k) for k in want} == want)
    ok("depends: dyn53 and luci-base",
       [d.get("name") for d in info.get("depends", [])] == ["dyn53", "luci-base"])
    regular = {p: m for p, m in files.items() if m["type"] == "file"}
    listed = "lib/apk/packages/luci-app-dyn53.list"
    ok("files: the menu, the ACL, the view and luci-app-dyn53.list; no conffiles",
       sorted(regular) == sorted(list(LUCI_TREE) + [listed]))
    bad = [p for p, src in LUCI_TREE.items()
           if regular.get(p, {}).get("mode") != 0o644 or regular[p].get("user") != "root"
           or contents.get(p) != read_bytes(os.path.join(REPO, src))]
    ok("each 0644 root:root, contents = the repository's files", not bad)
    ok(".list: every file as /path, sorted",
       contents.get(listed, b"").decode() == "".join(f"/{p}\n" for p in sorted(LUCI_TREE)))
    check_scripts(scripts, "luci-app-dyn53", f"{LUCI_SRC}/postinst-pkg")
    return info


def check_luci_ipk(path):
    """luci-app-dyn53's .ipk: the same files as the .apk, control fields, opkg scripts."""
    outer = tarfile.open(path)
    parts = {m.name: outer.extractfile(m).read() for m in outer if m.isfile()}
    data = tarfile.open(fileobj=io.BytesIO(parts.get("./data.tar.gz", b"")))
    got = {m.name[2:]: (m.mode, data.extractfile(m).read()) for m in data if m.isfile()}
    ok(f"{LUCI_IPK}: data is the .apk's tree, 0644, the repository's files",
       got == {p: (0o644, read_bytes(os.path.join(REPO, src))) for p, src in LUCI_TREE.items()})
    ctl = tarfile.open(fileobj=io.BytesIO(parts.get("./control.tar.gz", b"")))
    c = {m.name[2:]: ctl.extractfile(m).read() for m in ctl if m.isfile()}
    fields = stanzas(c.get("control", b"").decode())[0]
    ok("control: Package luci-app-dyn53, Architecture all, Depends dyn53, luci-base",
       (fields.get("Package"), fields.get("Architecture"), fields.get("Depends"))
       == ("luci-app-dyn53", "all", "dyn53, luci-base"))
    ok("control scripts: OpenWrt's postinst/prerm stanzas and the page's postinst-pkg",
       sorted(c) == ["control", "postinst", "postinst-pkg", "prerm"]
       and c["postinst"] == read_bytes(os.path.join(REPO, "openwrt/ipk/postinst"))
       and c["postinst-pkg"] == read_bytes(os.path.join(REPO, LUCI_SRC, "postinst-pkg")))


def check_index(dir_, arch, keys, pkg_info, luci_info):
    path = os.path.join(dir_, "packages.adb")
    try:
        tree, signed_by = apk_read.index(path, apk_read.load_keys(keys))
    except apk_read.Bad as e:
        ok(f"apk index {path} reads and verifies ({e})", False)
        return
    ok("apk index packages.adb: signed by the feed key", len(signed_by) == 1)
    pkgs = {p.get("name"): p for p in tree.get("packages", [])}
    ok("index lists dyn53 and luci-app-dyn53", sorted(pkgs) == ["dyn53", "luci-app-dyn53"])
    for name, file_, info in (("dyn53", f"dyn53-{APKVER}.apk", pkg_info),
                              ("luci-app-dyn53", LUCI_APK, luci_info)):
        apk = os.path.join(dir_, file_)
        entry = pkgs.get(name, {})
        ok(f"index entry {name}: the package's info fields",
           {k: v for k, v in entry.items() if k not in ("hashes", "file-size")}
           == {k: v for k, v in (info or {}).items() if k != "hashes"})
        ok(f"index entry {name}: file-size and hashes (SHA-256 of the ADB block) match the file",
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
    st = {f.get("Package"): f for f in stanzas(packages.decode())}
    names = ["dyn53"] + ([] if arch in ENTWARE else ["luci-app-dyn53"])
    ok(f"stanzas: {', '.join(names)}" + (" (no LuCI on Entware)" if arch in ENTWARE else ""),
       sorted(st) == names)
    s = st.get("dyn53", {})
    ipk = os.path.join(d, s.get("Filename", "-"))
    ok(f"dyn53: Version {VERSION}-{RELEASE}, Architecture {arch}",
       (s.get("Version"), s.get("Architecture")) == (f"{VERSION}-{RELEASE}", arch))
    ok("Filename is in the feed, Size and SHA256sum match it",
       os.path.isfile(ipk) and s.get("Size") == str(os.path.getsize(ipk))
       and s.get("SHA256sum") == hashlib.sha256(read_bytes(ipk)).hexdigest())
    if arch in ENTWARE:
        return
    s = st.get("luci-app-dyn53", {})
    ipk = os.path.join(d, s.get("Filename", "-"))
    ok(f"luci-app-dyn53: {LUCI_IPK}, Architecture all, Depends dyn53, luci-base, Size and "
       "SHA256sum match", s.get("Filename") == LUCI_IPK and s.get("Architecture") == "all"
       and s.get("Depends") == "dyn53, luci-base" and os.path.isfile(ipk)
       and s.get("Size") == str(os.path.getsize(ipk))
       and s.get("SHA256sum") == hashlib.sha256(read_bytes(ipk)).hexdigest())
    if arch == "x86_64":
        check_luci_ipk(ipk)


def main():
    keys = [os.path.join(FEED, "keys", "dyn53-apk.pem")]
    pubs = [os.path.join(FEED, "keys", f) for f in os.listdir(os.path.join(FEED, "keys"))
            if f != "dyn53-apk.pem"]
    ok("feed keys: dyn53-apk.pem and one usign public key", os.path.isfile(keys[0]) and len(pubs) == 1)
    for arch in sorted(ARCH_BINARY):
        print(f"make apk: {arch} (unsigned)")
        check_package(os.path.join(UNSIGNED, arch, f"dyn53-{APKVER}.apk"), arch, [])
        check_luci_package(os.path.join(UNSIGNED, arch, LUCI_APK), [])
        print(f"make feed: {arch} (apk repository)")
        d = os.path.join(FEED, "apk", arch)
        info = check_package(os.path.join(d, f"dyn53-{APKVER}.apk"), arch, keys)
        luci_info = check_luci_package(os.path.join(d, LUCI_APK), keys)
        check_index(d, arch, keys, info, luci_info)
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

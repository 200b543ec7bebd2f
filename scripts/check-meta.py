#!/usr/bin/env python3
"""Check META.json against the PGXN Meta Spec 1.0.0 (https://pgxn.org/meta/spec.txt)
and against the rest of the tree: the versions of META.json, of the
extension (pg_memshard.control) and of the Debian package must agree, and
every file META.json names must exist.

Usage: check-meta.py [TOP]   (TOP: the checkout, default: this script's ..)
Prints each problem and exits 1 if there is any, else prints "META.json ok".
"""
import json
import os
import re
import sys

REQUIRED = {"abstract", "license", "maintainer", "meta-spec", "name",
            "provides", "version"}
OPTIONAL = {"description", "generated_by", "no_index", "prereqs",
            "release_status", "resources", "tags"}
LICENSES = {"agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2",
            "bsd", "freebsd", "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2",
            "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit", "mozilla_1_0",
            "mozilla_1_1", "openssl", "perl_5", "postgresql", "qpl_1_0",
            "ssleay", "sun", "zlib", "open_source", "restricted",
            "unrestricted", "unknown"}
PHASES = {"configure", "build", "test", "runtime", "develop"}
RELATIONS = {"requires", "recommends", "suggests", "conflicts"}
# Semantic Versioning 1.0.0, which the spec names: X.Y.Z[prerelease]
SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)([A-Za-z][0-9A-Za-z-]*)?$")
RANGE_PART = re.compile(r"^(==|!=|>=|<=|>|<)?\s*(\S+)$")


class Checker:
    def __init__(self, top):
        self.top = top
        self.problems = []

    def fail(self, msg):
        self.problems.append(msg)

    def term(self, where, value):
        """a Term: a string of 2 or more characters, no slash, backslash,
        control or space character"""
        if not isinstance(value, str) or len(value) < 2 or \
                re.search(r"[/\\\s\x00-\x1f\x7f]", value):
            self.fail(f"{where}: {value!r} is not a Term")

    def version(self, where, value):
        if not isinstance(value, str) or not SEMVER.match(value):
            self.fail(f"{where}: {value!r} is not a semantic version (X.Y.Z)")

    def version_range(self, where, value):
        if value == 0 or value == "0":
            return
        if not isinstance(value, str):
            self.fail(f"{where}: {value!r} is not a version range")
            return
        for part in value.split(","):
            m = RANGE_PART.match(part.strip())
            if not m:
                self.fail(f"{where}: {part!r} is not a version clause")
            else:
                self.version(where, m.group(2))

    def string(self, where, value):
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{where}: must be a non-empty string")

    def path(self, where, value):
        self.string(where, value)
        if isinstance(value, str) and not os.path.exists(os.path.join(self.top, value)):
            self.fail(f"{where}: {value} does not exist in the tree")

    def check_spec(self, meta):
        for key in REQUIRED - meta.keys():
            self.fail(f"missing required key {key!r}")
        for key in meta.keys() - REQUIRED - OPTIONAL:
            if not key.lower().startswith("x_"):
                self.fail(f"unknown key {key!r} (custom keys start with x_)")

        spec = meta.get("meta-spec", {})
        if not isinstance(spec, dict) or spec.get("version") != "1.0.0":
            self.fail("meta-spec.version must be \"1.0.0\"")
        self.term("name", meta.get("name"))
        self.version("version", meta.get("version"))
        self.string("abstract", meta.get("abstract"))
        if "description" in meta:
            self.string("description", meta["description"])

        maint = meta.get("maintainer")
        if isinstance(maint, list):
            if not maint:
                self.fail("maintainer: empty list")
            for i, m in enumerate(maint):
                self.string(f"maintainer[{i}]", m)
        else:
            self.string("maintainer", maint)

        self.check_license(meta.get("license"))
        self.check_provides(meta.get("provides"))
        if "prereqs" in meta:
            self.check_prereqs(meta["prereqs"])
        if "release_status" in meta and \
                meta["release_status"] not in ("stable", "testing", "unstable"):
            self.fail("release_status must be stable, testing or unstable")
        if "tags" in meta:
            tags = meta["tags"]
            if not isinstance(tags, list) or not tags:
                self.fail("tags: must be a non-empty list")
            else:
                for t in tags:
                    if not isinstance(t, str) or not 0 < len(t) < 256 or \
                            re.search(r"[/\\\x00-\x1f\x7f]", t):
                        self.fail(f"tags: {t!r} is not a Tag")
        if "no_index" in meta:
            ni = meta["no_index"]
            if not isinstance(ni, dict) or ni.keys() - {"file", "directory"}:
                self.fail("no_index: only 'file' and 'directory' lists")
            else:
                for kind, paths in ni.items():
                    for p in paths if isinstance(paths, list) else [paths]:
                        self.path(f"no_index.{kind}", p)
        if "resources" in meta and not isinstance(meta["resources"], dict):
            self.fail("resources: must be an object")

    def check_license(self, lic):
        if isinstance(lic, str):
            if lic not in LICENSES:
                self.fail(f"license: {lic!r} is not a license string of the spec")
        elif isinstance(lic, list):
            for entry in lic:
                if entry not in LICENSES:
                    self.fail(f"license: {entry!r} is not a license string of the spec")
        elif isinstance(lic, dict):
            if not lic:
                self.fail("license: empty object")
        else:
            self.fail("license: a string, a list or an object")

    def check_provides(self, provides):
        if not isinstance(provides, dict) or not provides:
            self.fail("provides: a non-empty object")
            return
        for ext, info in provides.items():
            self.term(f"provides key {ext!r}", ext)
            if not isinstance(info, dict):
                self.fail(f"provides.{ext}: must be an object")
                continue
            for key in info.keys() - {"file", "version", "abstract", "docfile"}:
                if not key.lower().startswith("x_"):
                    self.fail(f"provides.{ext}: unknown key {key!r}")
            if "file" not in info or "version" not in info:
                self.fail(f"provides.{ext}: needs file and version")
            self.path(f"provides.{ext}.file", info.get("file"))
            self.version(f"provides.{ext}.version", info.get("version"))
            if "docfile" in info:
                self.path(f"provides.{ext}.docfile", info["docfile"])

    def check_prereqs(self, prereqs):
        if not isinstance(prereqs, dict):
            self.fail("prereqs: must be an object")
            return
        for phase, rels in prereqs.items():
            if phase not in PHASES:
                self.fail(f"prereqs: unknown phase {phase!r}")
                continue
            if not isinstance(rels, dict):
                self.fail(f"prereqs.{phase}: must be an object")
                continue
            for rel, reqs in rels.items():
                if rel not in RELATIONS:
                    self.fail(f"prereqs.{phase}: unknown relationship {rel!r}")
                    continue
                if not isinstance(reqs, dict):
                    self.fail(f"prereqs.{phase}.{rel}: must be an object")
                    continue
                for name, rng in reqs.items():
                    self.term(f"prereqs.{phase}.{rel} key", name)
                    self.version_range(f"prereqs.{phase}.{rel}.{name}", rng)

    def check_tree(self, meta):
        """the versions of the tree agree with META.json"""
        version = meta.get("version")
        control = open(os.path.join(self.top, "pg_memshard.control")).read()
        m = re.search(r"^\s*default_version\s*=\s*'([^']*)'", control, re.M)
        if not m:
            self.fail("pg_memshard.control has no default_version")
            return
        extversion = m.group(1)
        # the extension's versions have two parts; releases add ".0"
        semver = extversion if extversion.count(".") == 2 else extversion + ".0"
        if version != semver:
            self.fail(f"version {version} does not match default_version "
                      f"'{extversion}' of pg_memshard.control (expected {semver})")
        ext = meta.get("provides", {}).get("pg_memshard", {})
        if ext.get("version") != version:
            self.fail("provides.pg_memshard.version differs from version")
        if meta.get("name") != "pg_memshard":
            self.fail("name must be pg_memshard (the archives are named after it)")
        changelog = os.path.join(self.top, "debian", "changelog")
        if os.path.exists(changelog):
            first = open(changelog).readline()
            m = re.match(r"^\S+ \(([^)]*)\)", first)
            upstream = m.group(1).rsplit("-", 1)[0] if m else None
            if upstream != version:
                self.fail(f"debian/changelog's upstream version {upstream} "
                          f"differs from META.json's {version}")


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    checker = Checker(top)
    try:
        with open(os.path.join(top, "META.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        print(f"META.json: {e}")
        return 1
    if not isinstance(meta, dict):
        print("META.json: not a JSON object")
        return 1
    checker.check_spec(meta)
    checker.check_tree(meta)
    for p in checker.problems:
        print(f"META.json: {p}")
    if checker.problems:
        return 1
    print("META.json ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

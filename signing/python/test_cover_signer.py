"""Tests for cover_signer against the vectors the Go and JavaScript signers
are tested with (../testdata/vectors.json).

Run: bash scripts/python-test.sh (make test runs it), or
python3 -m unittest test_cover_signer in this folder.
"""

import datetime as dt
import doctest
import json
import os
import pathlib
import re
import unittest
import unittest.mock

import cover_signer
from cover_signer import canonical, sign, sign_cover_path, sign_meta_path

VECTORS = json.loads((pathlib.Path(__file__).resolve().parent.parent / "testdata" / "vectors.json").read_text("utf-8"))
README_KEY = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
README3 = next(v for v in VECTORS if v["name"] == "readme expiry and version")
META_PATH = re.compile(r"/covers/([^/]+)/meta\.json")
SIG = re.compile(r"[A-Za-z0-9_-]{43}")


def load_tests(loader, tests, ignore):
    # The module docstring's example runs too.
    tests.addTests(doctest.DocTestSuite(cover_signer))
    return tests


def input_args(v):
    """The arguments of sign_cover_path for a vector's input (signCoverPath's)."""
    i = v["input"]
    return (i["bookId"], i["size"], i["format"], v["key_hex"]), {"version": i.get("version"), "expires": i.get("expires")}


class VectorsTest(unittest.TestCase):
    def test_file_has_the_cases_the_signers_rely_on(self):
        self.assertEqual(README3["sig"], "BOtkfzNf-KHKp-fbS75IiQOW4EahyFKi8hJjWbFEBKk")
        self.assertTrue(any(v.get("must_fail") and "path" in v["name"] for v in VECTORS), "no tampered path vector")
        self.assertTrue(any(v.get("must_fail") and "sig" in v["name"] for v in VECTORS), "no tampered sig vector")
        self.assertTrue(any(not v.get("must_fail") and len(v.get("verify_keys", [])) > 1 for v in VECTORS), "no rotation vector")
        self.assertTrue(any(v.get("input", {}).get("format") == "jpg" for v in VECTORS), "no jpg vector")
        self.assertTrue(any(META_PATH.fullmatch(v["path"]) for v in VECTORS), "no meta.json vector")

    def test_vectors(self):
        for v in VECTORS:
            with self.subTest(v["name"]):
                self.assertEqual(canonical(v["path"], v["params"]), v["canonical"], f"canonical({v['path']!r}, {v['params']!r})")
                verify_keys = v.get("verify_keys") or [v["key_hex"]]
                sigs = [sign(v["canonical"], k) for k in verify_keys]
                for s in sigs:
                    self.assertRegex(s, SIG)
                if v.get("must_fail"):
                    self.assertNotIn(v["sig"], sigs, f"sig verified with one of {len(verify_keys)} keys, want rejected")
                    continue
                self.assertIn(v["sig"], sigs, f"sig not produced by any of {len(verify_keys)} verify keys")
                self.assertEqual(sign(v["canonical"], v["key_hex"]), v["sig"], f"sign({v['canonical']!r})")
                meta = META_PATH.fullmatch(v["path"])
                if meta:
                    exp = v["params"].get("exp")
                    got = sign_meta_path(meta[1], v["key_hex"], version=v["params"].get("v"), expires=None if exp is None else int(exp))
                    self.assertEqual(got, v["signed_path"], "sign_meta_path")
                if "input" in v:
                    self.check_input(v)

    def check_input(self, v):
        args, kwargs = input_args(v)
        self.assertEqual(sign_cover_path(*args, **kwargs), v["signed_path"], f"sign_cover_path{args[:3]} {kwargs}")
        if kwargs["expires"] is not None:
            when = dt.datetime.fromtimestamp(kwargs["expires"], dt.timezone.utc) + dt.timedelta(microseconds=999999)
            self.assertEqual(sign_cover_path(*args, **{**kwargs, "expires": when}), v["signed_path"], "expires as a UTC datetime")
            there = when.astimezone(dt.timezone(dt.timedelta(hours=-5)))
            self.assertEqual(sign_cover_path(*args, **{**kwargs, "expires": there}), v["signed_path"], "expires as a datetime at UTC-5")
        if args[1].isdigit():
            self.assertEqual(sign_cover_path(args[0], int(args[1]), *args[2:], **kwargs), v["signed_path"], "size as an int")


class CanonicalTest(unittest.TestCase):
    def test_canonical(self):
        cases = [
            ("no params", "/c/x.webp", None, "/c/x.webp"),
            ("empty dict", "/c/x.webp", {}, "/c/x.webp"),
            ("sorted by name", "/c", {"v": "b", "exp": "1"}, "/c?exp=1&v=b"),
            ("sig ignored", "/c", {"sig": "zzz", "v": "b"}, "/c?v=b"),
            ("only sig", "/c", {"sig": "zzz"}, "/c"),
            ("several values sorted", "/c", {"a": ["2", "10", "1"]}, "/c?a=1&a=10&a=2"),
            ("empty list and None skipped", "/c", {"a": [], "b": None, "d": ""}, "/c?d="),
            ("ints", "/c", {"exp": 1893456000}, "/c?exp=1893456000"),
            ("utf-8 order, not utf-16", "/c", {"\U0001F600": "2", "\uFF61": "1"}, "/c?\uFF61=1&\U0001F600=2"),
            ("list of pairs", "/c", [("v", "b"), ("a", "2"), ("a", "1")], "/c?a=1&a=2&v=b"),
        ]
        for name, path, params, want in cases:
            with self.subTest(name):
                self.assertEqual(canonical(path, params), want)

    def test_rejects(self):
        cases = [
            ("path not a str", 42, {}),
            ("params a str", "/c", "v=1"),
            ("nested value", "/c", {"v": {"nested": True}}),
            ("bool value", "/c", {"v": True}),
            ("not pairs", "/c", ["v=1"]),
            ("int name", "/c", [(1, "2")]),
        ]
        for name, path, params in cases:
            with self.subTest(name), self.assertRaises(TypeError):
                canonical(path, params)


class SignCoverPathTest(unittest.TestCase):
    def test_rejects_what_the_service_rejects(self):
        good = {"book_id": "B123", "size": "320x480", "fmt": "webp"}
        cases = [
            ("missing book_id", {**good, "book_id": None}, ValueError, "book_id"),
            ("empty book_id", {**good, "book_id": ""}, ValueError, "book_id"),
            ("int book_id", {**good, "book_id": 123}, ValueError, "book_id"),
            ("leading dot", {**good, "book_id": ".hidden"}, ValueError, "book_id"),
            ("dot dot", {**good, "book_id": ".."}, ValueError, "book_id"),
            ("slash", {**good, "book_id": "a/b"}, ValueError, "book_id"),
            ("space", {**good, "book_id": "a b"}, ValueError, "book_id"),
            ("trailing newline", {**good, "book_id": "B123\n"}, ValueError, "book_id"),
            ("non-ascii", {**good, "book_id": "caf\u00e9"}, ValueError, "book_id"),
            ("non-ascii digit", {**good, "book_id": "B\u0663"}, ValueError, "book_id"),
            ("129 characters", {**good, "book_id": "a" * 129}, ValueError, "book_id"),
            ("unknown preset", {**good, "size": "huge"}, ValueError, "size"),
            ("upper-case preset", {**good, "size": "Medium"}, ValueError, "size"),
            ("empty size", {**good, "size": ""}, ValueError, "size"),
            ("width too small", {**good, "size": "15"}, ValueError, "size"),
            ("width too large", {**good, "size": "2049"}, ValueError, "size"),
            ("int too small", {**good, "size": 15}, ValueError, "size"),
            ("float size", {**good, "size": 320.0}, ValueError, "size"),
            ("bool size", {**good, "size": True}, ValueError, "size"),
            ("leading zero", {**good, "size": "0320"}, ValueError, "size"),
            ("box without height", {**good, "size": "320x"}, ValueError, "size"),
            ("box without width", {**good, "size": "x480"}, ValueError, "size"),
            ("box height too small", {**good, "size": "320x15"}, ValueError, "size"),
            ("three dimensions", {**good, "size": "16x16x16"}, ValueError, "size"),
            ("fit without a box", {**good, "size": "320f"}, ValueError, "size"),
            ("fit upper-case", {**good, "size": "320x480F"}, ValueError, "size"),
            ("fit twice", {**good, "size": "320x480ff"}, ValueError, "size"),
            ("fit height too large", {**good, "size": "320x2049f"}, ValueError, "size"),
            ("signed width", {**good, "size": "+320"}, ValueError, "size"),
            ("dotted size", {**good, "size": "320.5"}, ValueError, "size"),
            ("non-ascii digits", {**good, "size": "\u0663\u0662\u0660"}, ValueError, "size"),
            ("png", {**good, "fmt": "png"}, ValueError, "fmt"),
            ("upper-case format", {**good, "fmt": "WEBP"}, ValueError, "fmt"),
            ("jpeg spelled out", {**good, "fmt": "jpeg"}, ValueError, "fmt"),
            ("empty version", {**good, "version": ""}, ValueError, "version"),
            ("dotted version", {**good, "version": "a.b"}, ValueError, "version"),
            ("65-character version", {**good, "version": "a" * 65}, ValueError, "version"),
            ("int version", {**good, "version": 3}, ValueError, "version"),
            ("negative expires", {**good, "expires": -1}, ValueError, "expires"),
            ("float expires", {**good, "expires": 1893456000.5}, TypeError, "expires"),
            ("str expires", {**good, "expires": "1893456000"}, TypeError, "expires"),
            ("bool expires", {**good, "expires": True}, TypeError, "expires"),
            ("naive datetime", {**good, "expires": dt.datetime(2030, 1, 1)}, ValueError, "timezone-aware"),
            ("milliseconds", {**good, "expires": 1893456000000}, ValueError, "milliseconds"),
            ("bad presets option", {**good, "presets": ["Big"]}, ValueError, "presets"),
            ("presets a str", {**good, "presets": "thumb"}, ValueError, "presets"),
            ("bad max_dimension option", {**good, "max_dimension": 8}, ValueError, "max_dimension"),
        ]
        for name, kwargs, exc, msg in cases:
            with self.subTest(name), self.assertRaisesRegex(exc, msg):
                sign_cover_path(key_hex=README_KEY, **kwargs)

    def test_bad_keys_are_rejected_without_echoing_key_material(self):
        cases = [
            ("empty", "", ValueError, "empty"),
            ("odd digits", README_KEY[:63], ValueError, "hex"),
            ("not hex", "zz" + README_KEY[2:], ValueError, "hex"),
            ("spaces inside", README_KEY[:32] + " " + README_KEY[32:], ValueError, "hex"),
            ("15 bytes", README_KEY[:30], ValueError, "15 bytes"),
            ("key list", README_KEY + "," + README_KEY, ValueError, "one key"),
            ("int", 1234, TypeError, "key"),
            ("None", None, TypeError, "key"),
            ("bytes", bytes.fromhex(README_KEY), TypeError, "key"),
        ]
        for name, key, exc, msg in cases:
            with self.subTest(name):
                with self.assertRaisesRegex(exc, msg) as caught:
                    sign_cover_path("B123", "320", "webp", key)
                if isinstance(key, str) and len(key) >= 16:
                    self.assertNotIn(key[2:18], str(caught.exception), "message contains key material")

    def test_keys_trimmed_upper_case_and_16_bytes_accepted(self):
        args, kwargs = input_args(README3)
        self.assertEqual(sign_cover_path(*args[:3], f" {README_KEY.upper()}\n", **kwargs), README3["signed_path"])
        short = sign(README3["canonical"], README_KEY[:32])
        self.assertRegex(short, SIG)
        self.assertNotEqual(short, README3["sig"])
        self.assertEqual(sign_cover_path(*args[:3], README_KEY[:32], **kwargs), README3["canonical"] + "&sig=" + short)

    def test_deployment_options(self):
        huge = sign_cover_path("B123", "huge", "avif", README_KEY, presets=("huge",))
        self.assertEqual(huge, "/covers/B123/huge.avif?sig=" + sign("/covers/B123/huge.avif", README_KEY))
        with self.assertRaisesRegex(ValueError, "size"):
            sign_cover_path("B123", "thumb", "avif", README_KEY, presets=("huge",))
        big = sign_cover_path("B123", "4096x16", "webp", README_KEY, max_dimension=4096)
        self.assertEqual(big, "/covers/B123/4096x16.webp?sig=" + sign("/covers/B123/4096x16.webp", README_KEY))
        for preset in cover_signer.DEFAULT_PRESETS:
            with self.subTest(preset):
                got = sign_cover_path("B123", preset, "webp", README_KEY)
                self.assertEqual(got, f"/covers/B123/{preset}.webp?sig=" + sign(f"/covers/B123/{preset}.webp", README_KEY))

    def test_sign_meta_path_rejects(self):
        with self.assertRaisesRegex(ValueError, "book_id"):
            sign_meta_path(".x", README_KEY)
        with self.assertRaisesRegex(ValueError, "version"):
            sign_meta_path("B123", README_KEY, version="a.b")
        with self.assertRaisesRegex(ValueError, "milliseconds"):
            sign_meta_path("B123", README_KEY, expires=1893456000000)


class ReadmeTest(unittest.TestCase):
    """The Python example of the repository README's frontend section, run as
    written: it must give exactly the HTML the README shows, which
    signing/js/examples.test.mjs checks the JavaScript example against."""

    @staticmethod
    def frontend_block(lang):
        readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
        start = readme.index("\n## For frontends")
        section = readme[start:readme.index("\n## ", start + 1)]
        return re.search(f"```{lang}\n(.*?)```", section, re.S)[1]

    def test_python_example_gives_the_html_shown(self):
        namespace = {}
        with unittest.mock.patch.dict(os.environ, {"COVER_SIGNING_KEY": README_KEY}):
            exec(self.frontend_block("python"), namespace)
        got = namespace["cover_picture"]("B123", "3f9a1c2b7d4e", "Cover") + "\n"
        self.assertEqual(got, self.frontend_block("html"))


if __name__ == "__main__":
    unittest.main()

"""Signs image-worker cover URLs in Python, with the standard library only.

A Python backend signs the cover URLs it puts in its pages exactly as the
service's own signer (Go, ``image-worker sign``) and the JavaScript package
``@bookcovers/cover-url-signer`` do; the three are tested against the same
vectors, ``signing/testdata/vectors.json``::

    canonical = path                                  when there are no parameters
    canonical = path + "?" + name=value&...           every parameter but sig, sorted
                                                      by name then value, unescaped
    sig       = base64url without padding of HMAC-SHA256(key, canonical)

    >>> key_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    >>> sign_cover_path("B123", "320x480", "webp", key_hex,
    ...                 version="3f9a1c2b7d4e", expires=1893456000)
    '/covers/B123/320x480.webp?exp=1893456000&v=3f9a1c2b7d4e&sig=BOtkfzNf-KHKp-fbS75IiQOW4EahyFKi8hJjWbFEBKk'

The key is a secret: sign on the server and send browsers only the signed
URLs. ``key_hex`` is one key of the service's IMAGE_SIGNING_KEYS (the first:
it signs), at least 16 bytes of hex; error messages never contain key
material. Input the service would refuse raises ValueError (or TypeError for
a value of the wrong type) naming the argument.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import re

__all__ = [
    "DEFAULT_MAX_DIMENSION",
    "DEFAULT_PRESETS",
    "FORMATS",
    "MIN_DIMENSION",
    "canonical",
    "sign",
    "sign_cover_path",
    "sign_meta_path",
]

#: Preset size names of a default deployment (COVER_SIZES).
DEFAULT_PRESETS = ("thumb", "small", "medium", "large", "xlarge")
#: Smallest width or height the service renders.
MIN_DIMENSION = 16
#: Largest width or height of a default deployment (MAX_COVER_DIMENSION).
DEFAULT_MAX_DIMENSION = 2048
#: Formats a cover path may name; jpg is the JPEG <img> fallback (a service
#: without JPEG output answers .jpg with 400 bad_format).
FORMATS = ("webp", "avif", "jpg")

_MIN_KEY_BYTES = 16
_MAX_BOOK_ID_LENGTH = 128
# exp is Unix seconds. Larger values are almost certainly milliseconds passed
# by mistake: 1e11 seconds is the year 5138.
_MAX_EXPIRES = 10**11
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)

# Character classes are spelled out: \d and \w would take non-ASCII digits
# and letters. Every pattern is used with fullmatch.
_BOOK_ID_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_VERSION_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PRESET_RE = re.compile(r"[a-z]{1,32}")
_DIMENSION_RE = re.compile(r"[1-9][0-9]{0,4}")
_HEX_RE = re.compile(r"(?:[0-9a-fA-F]{2})+")


def canonical(path, params=None):
    """Returns the string that is signed for path and params.

    params is a mapping of names to a value or a list of values, or an
    iterable of (name, value) pairs; values are str or int, None is skipped
    and so is a "sig" parameter. Names and values are used as given
    (decoded), sorted by name then value; Python orders str by code point,
    which is the UTF-8 byte order Go sorts by.
    """
    if not isinstance(path, str):
        raise TypeError("cover_signer: path must be a str")
    by_name = {}
    items = params.items() if hasattr(params, "items") else (params or ())
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[0], str):
            raise TypeError("cover_signer: parameters must be (name, value) pairs with str names")
        name, value = item
        if name == "sig":
            continue
        for v in value if isinstance(value, (list, tuple)) else (value,):
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                raise TypeError(f"cover_signer: parameter {name!r} must be a str, an int or a list of them")
            by_name.setdefault(name, []).append(str(v))
    pairs = [f"{name}={v}" for name in sorted(by_name) for v in sorted(by_name[name])]
    return path + "?" + "&".join(pairs) if pairs else path


def sign(canonical_string, key_hex):
    """Returns base64url without padding of HMAC-SHA256(key, canonical_string)."""
    if not isinstance(canonical_string, str):
        raise TypeError("cover_signer: the canonical string must be a str")
    mac = hmac.new(_decode_key(key_hex), canonical_string.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def sign_cover_path(book_id, size, fmt, key_hex, version=None, expires=None, *,
                    presets=DEFAULT_PRESETS, max_dimension=DEFAULT_MAX_DIMENSION):
    """Returns the signed path and query of a cover, exactly as the Go
    Signer.SignedURL and the JavaScript signCoverPath return it:
    /covers/{book_id}/{size}.{fmt}, then exp and v when given (in that
    order), then sig.

    size is a preset name (DEFAULT_PRESETS, or the deployment's ``presets``),
    a width (320 or "320"), a box "WxH" ("320x480", filled) or "WxHf"
    ("600x315f", the whole cover fitted inside, padded), each dimension in
    16..max_dimension; fmt is "webp", "avif" or "jpg"; version is the cover's
    version token; expires is Unix seconds (int) or a timezone-aware datetime
    (rounded down to the second).
    """
    _check_book_id(book_id)
    if fmt not in FORMATS:
        raise ValueError('cover_signer: fmt must be "webp", "avif" or "jpg"')
    size = _check_size(size, presets, max_dimension)
    return _signed(f"/covers/{book_id}/{size}.{fmt}", version, expires, key_hex)


def sign_meta_path(book_id, key_hex, version=None, expires=None):
    """Returns the signed path and query of /covers/{book_id}/meta.json, the
    cover's metadata, signed like a cover."""
    _check_book_id(book_id)
    return _signed(f"/covers/{book_id}/meta.json", version, expires, key_hex)


def _signed(path, version, expires, key_hex):
    # The parts need no escaping (book id, size and the tokens are checked),
    # so canonical + sig is signing.CanonicalURL byte for byte.
    query = []
    if expires is not None:
        query.append(("exp", _check_expires(expires)))
    if version is not None:
        if not isinstance(version, str) or not _VERSION_RE.fullmatch(version):
            raise ValueError("cover_signer: version must be 1-64 characters of A-Z a-z 0-9 _ -")
        query.append(("v", version))
    canon = canonical(path, query)
    return canon + ("&" if query else "?") + "sig=" + sign(canon, key_hex)


def _check_book_id(book_id):
    if not isinstance(book_id, str) or len(book_id) > _MAX_BOOK_ID_LENGTH or not _BOOK_ID_RE.fullmatch(book_id):
        raise ValueError(f'cover_signer: book_id must be 1-{_MAX_BOOK_ID_LENGTH} characters of A-Z a-z 0-9 . _ - not starting with "."')


def _check_size(size, presets, max_dimension):
    if isinstance(presets, str) or not all(isinstance(p, str) and _PRESET_RE.fullmatch(p) for p in presets):
        raise ValueError("cover_signer: presets must be a sequence of lowercase names")
    if isinstance(max_dimension, bool) or not isinstance(max_dimension, int) or max_dimension < MIN_DIMENSION:
        raise ValueError(f"cover_signer: max_dimension must be an int of at least {MIN_DIMENSION}")
    bad = (f"cover_signer: size must be a preset ({', '.join(presets)}), a width, \"WxH\" or \"WxHf\" "
           f"with dimensions in {MIN_DIMENSION}..{max_dimension}")
    if isinstance(size, int) and not isinstance(size, bool):
        size = str(size)
    if not isinstance(size, str):
        raise ValueError(bad)
    if _PRESET_RE.fullmatch(size):
        if size not in presets:
            raise ValueError(bad)
        return size
    fit = size.endswith("f")
    dims = (size[:-1] if fit else size).split("x")
    if len(dims) > 2 or fit and len(dims) != 2 or not all(_DIMENSION_RE.fullmatch(d) and MIN_DIMENSION <= int(d) <= max_dimension for d in dims):
        raise ValueError(bad)
    return size


def _check_expires(expires):
    if isinstance(expires, _dt.datetime):
        if expires.tzinfo is None or expires.utcoffset() is None:
            raise ValueError("cover_signer: expires must be a timezone-aware datetime (a naive one names no instant)")
        seconds = (expires - _EPOCH) // _dt.timedelta(seconds=1)
    elif isinstance(expires, int) and not isinstance(expires, bool):
        seconds = expires
    else:
        raise TypeError("cover_signer: expires must be Unix seconds (an int) or a datetime")
    if seconds < 0:
        raise ValueError("cover_signer: expires must not be before 1970")
    if seconds > _MAX_EXPIRES:
        raise ValueError("cover_signer: expires is too large: pass Unix seconds (int(time.time()) + ttl), not milliseconds")
    return str(seconds)


def _decode_key(key_hex):
    # Messages never contain key material.
    if not isinstance(key_hex, str):
        raise TypeError("cover_signer: key_hex must be a hex str")
    key = key_hex.strip()
    if not key:
        raise ValueError("cover_signer: key_hex is empty")
    if "," in key:
        raise ValueError("cover_signer: key_hex must be one key, not a comma-separated list "
                         "(sign with the first key of IMAGE_SIGNING_KEYS)")
    if not _HEX_RE.fullmatch(key):
        raise ValueError("cover_signer: key_hex must be an even number of hex digits")
    if len(key) // 2 < _MIN_KEY_BYTES:
        raise ValueError(f"cover_signer: key_hex is {len(key) // 2} bytes, want at least {_MIN_KEY_BYTES} (32 recommended)")
    return bytes.fromhex(key)

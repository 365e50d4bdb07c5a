// @bookcovers/cover-url-signer: signs image-worker cover URLs.
//
// A dependency-free ES module built on Web Crypto (crypto.subtle): the same
// file runs in Node 18+, edge runtimes (Cloudflare Workers, Deno, Vercel Edge)
// and browsers. It implements the service's signing scheme byte for byte:
//
//   canonical = path                                   when there are no parameters
//   canonical = path + "?" + name=value&...            every parameter but sig, sorted
//                                                      by name then value (UTF-8 bytes),
//                                                      names and values unescaped
//   sig       = base64url without padding of HMAC-SHA256(key, canonical)
//
// The signing key is a secret: sign on a server (backend-for-frontend, edge
// function), never ship the key to a browser. See README.md.
//
// The shared test vectors in ../testdata/vectors.json are checked against both
// this module and the Go implementation.

/** Preset size names of a default deployment (COVER_SIZES). */
export const DEFAULT_PRESETS = Object.freeze(['thumb', 'small', 'medium', 'large', 'xlarge']);
/** Smallest width or height the service renders. */
export const MIN_DIMENSION = 16;
/** Largest width or height of a default deployment (MAX_COVER_DIMENSION). */
export const DEFAULT_MAX_DIMENSION = 2048;
/**
 * Formats a cover path may name: webp and avif, and jpg, the JPEG <img>
 * fallback (a service without JPEG output answers .jpg with 400 bad_format).
 */
export const FORMATS = Object.freeze(['webp', 'avif', 'jpg']);

const MIN_KEY_BYTES = 16;
const MAX_BOOK_ID_LENGTH = 128;
// exp is Unix seconds. Larger values are almost certainly milliseconds
// (Date.now()) passed by mistake: 1e11 seconds is the year 5138.
const MAX_EXPIRES = 1e11;

const BOOK_ID_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const VERSION_RE = /^[A-Za-z0-9_-]{1,64}$/;
const PRESET_RE = /^[a-z]{1,32}$/;
const DIMENSION_RE = /^[1-9][0-9]{0,4}$/;
const HEX_RE = /^(?:[0-9a-fA-F]{2})+$/;
const COVER_FIELDS = new Set(['bookId', 'size', 'format', 'version', 'expires', 'presets', 'maxDimension']);

/**
 * Returns the signed path and query of a cover, exactly as the Go
 * Signer.SignedURL returns it: /covers/{bookId}/{size}.{format}, then exp and
 * v when given (in that order), then sig.
 */
export async function signCoverPath(params, keyHex) {
  const { path, query } = coverParts(params);
  const canon = query.length === 0 ? path : path + '?' + query.join('&');
  const sig = await sign(canon, keyHex);
  return canon + (query.length === 0 ? '?' : '&') + 'sig=' + sig;
}

/**
 * Returns baseURL (trailing slashes removed) followed by the signed cover
 * path: the value to put in an <img src>.
 */
export async function coverURL(baseURL, params, keyHex) {
  if (typeof baseURL !== 'string') {
    throw new TypeError('cover-url-signer: baseURL must be a string');
  }
  if (/[?#]/.test(baseURL)) {
    throw new TypeError('cover-url-signer: baseURL must not contain a query or fragment');
  }
  const signed = await signCoverPath(params, keyHex);
  return baseURL.replace(/\/+$/, '') + signed;
}

/**
 * Returns the string that is signed for path and params. params is a plain
 * object (values: string, number, bigint or an array of them; null and
 * undefined are skipped), or an iterable of [name, value] pairs of the same
 * (a URLSearchParams, a Map, an array). A "sig" parameter is ignored. Names
 * and values are used as given (decoded).
 */
export function canonical(path, params) {
  if (typeof path !== 'string') {
    throw new TypeError('cover-url-signer: path must be a string');
  }
  const byName = collectParams(params);
  const names = [...byName.keys()].sort(compareUTF8);
  const pairs = [];
  for (const name of names) {
    const values = byName.get(name).sort(compareUTF8);
    for (const value of values) {
      pairs.push(name + '=' + value);
    }
  }
  return pairs.length === 0 ? path : path + '?' + pairs.join('&');
}

/**
 * Returns the signature of canonicalString: base64url without padding of
 * HMAC-SHA256. keyHex is a hex key (at least 16 bytes) or a key from
 * importKey.
 */
export async function sign(canonicalString, keyHex) {
  if (typeof canonicalString !== 'string') {
    throw new TypeError('cover-url-signer: canonical string must be a string');
  }
  const key = await resolveKey(keyHex);
  const subtle = await getSubtle();
  const mac = await subtle.sign('HMAC', key, new TextEncoder().encode(canonicalString));
  return base64url(new Uint8Array(mac));
}

/**
 * Imports a hex key (the format of IMAGE_SIGNING_KEYS, one key) as a
 * non-extractable HMAC-SHA256 CryptoKey, to sign many URLs without decoding
 * the key each time.
 */
export async function importKey(keyHex) {
  const bytes = decodeKey(keyHex);
  const subtle = await getSubtle();
  return subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

// getSubtle finds Web Crypto when it is first needed. Node 18 has no global
// crypto (unless --experimental-global-webcrypto), so it falls back to
// node:crypto's webcrypto; the specifier is a variable and the comments keep
// bundlers from trying to resolve node:crypto for a browser build.
async function getSubtle() {
  const c = globalThis.crypto;
  if (c && c.subtle) {
    return c.subtle;
  }
  try {
    const specifier = 'node:crypto';
    const mod = await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier);
    if (mod.webcrypto && mod.webcrypto.subtle) {
      return mod.webcrypto.subtle;
    }
  } catch (err) {
    // Not Node: fall through to the error below.
  }
  throw new Error('cover-url-signer: Web Crypto (crypto.subtle) is not available: use Node 18+, an edge runtime or a secure (https) context');
}

async function resolveKey(key) {
  if (typeof key === 'string') {
    return importKey(key);
  }
  if (isHMACKey(key)) {
    return key;
  }
  throw new TypeError('cover-url-signer: key must be a hex string or a CryptoKey from importKey');
}

function isHMACKey(key) {
  return key !== null && typeof key === 'object' &&
    key.type === 'secret' &&
    key.algorithm && key.algorithm.name === 'HMAC' &&
    key.algorithm.hash && key.algorithm.hash.name === 'SHA-256' &&
    Array.isArray(key.usages) && key.usages.includes('sign');
}

// decodeKey checks and decodes a hex key. Messages never contain key material.
function decodeKey(keyHex) {
  if (typeof keyHex !== 'string') {
    throw new TypeError('cover-url-signer: keyHex must be a hex string');
  }
  const hex = keyHex.trim();
  if (hex === '') {
    throw new TypeError('cover-url-signer: keyHex is empty');
  }
  if (hex.includes(',')) {
    throw new TypeError('cover-url-signer: keyHex must be one key, not a comma-separated list (sign with the first key of IMAGE_SIGNING_KEYS)');
  }
  if (!HEX_RE.test(hex)) {
    throw new TypeError('cover-url-signer: keyHex must be an even number of hex digits');
  }
  if (hex.length / 2 < MIN_KEY_BYTES) {
    throw new TypeError(`cover-url-signer: keyHex is ${hex.length / 2} bytes, want at least ${MIN_KEY_BYTES} (32 recommended)`);
  }
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

// coverParts validates a cover's parameters like the service does and returns
// its path and its query pairs in canonical order (exp before v).
function coverParts(params) {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new TypeError('cover-url-signer: params must be an object {bookId, size, format, version?, expires?}');
  }
  for (const field of Object.keys(params)) {
    if (!COVER_FIELDS.has(field)) {
      throw new TypeError(`cover-url-signer: unknown field ${JSON.stringify(field)} (want bookId, size, format, version, expires, presets, maxDimension)`);
    }
  }
  const { bookId, format, version, expires } = params;
  if (typeof bookId !== 'string' || bookId.length < 1 || bookId.length > MAX_BOOK_ID_LENGTH || !BOOK_ID_RE.test(bookId)) {
    throw new TypeError(`cover-url-signer: bookId must be 1-${MAX_BOOK_ID_LENGTH} characters of A-Z a-z 0-9 . _ - not starting with "."`);
  }
  if (!FORMATS.includes(format)) {
    throw new TypeError('cover-url-signer: format must be "webp", "avif" or "jpg"');
  }
  const size = checkSize(params.size, params.presets, params.maxDimension);
  const query = [];
  if (expires !== undefined && expires !== null) {
    query.push('exp=' + checkExpires(expires));
  }
  if (version !== undefined && version !== null) {
    if (typeof version !== 'string' || !VERSION_RE.test(version)) {
      throw new TypeError('cover-url-signer: version must be 1-64 characters of A-Z a-z 0-9 _ -');
    }
    query.push('v=' + version);
  }
  return { path: `/covers/${bookId}/${size}.${format}`, query };
}

// checkSize accepts a preset name, a width (number or "W") or a box "WxH",
// each dimension a canonical decimal in [MIN_DIMENSION, maxDimension].
function checkSize(size, presets = DEFAULT_PRESETS, maxDimension = DEFAULT_MAX_DIMENSION) {
  if (!Array.isArray(presets) || !presets.every((p) => typeof p === 'string' && PRESET_RE.test(p))) {
    throw new TypeError('cover-url-signer: presets must be an array of lowercase names');
  }
  if (!Number.isInteger(maxDimension) || maxDimension < MIN_DIMENSION) {
    throw new TypeError(`cover-url-signer: maxDimension must be an integer of at least ${MIN_DIMENSION}`);
  }
  const bad = `cover-url-signer: size must be a preset (${presets.join(', ')}), a width or "WxH" with dimensions in ${MIN_DIMENSION}..${maxDimension}`;
  if (typeof size === 'number') {
    if (!Number.isInteger(size)) {
      throw new TypeError(bad);
    }
    size = String(size);
  }
  if (typeof size !== 'string') {
    throw new TypeError(bad);
  }
  if (PRESET_RE.test(size)) {
    if (!presets.includes(size)) {
      throw new TypeError(bad);
    }
    return size;
  }
  const dims = size.split('x');
  if (dims.length > 2 || !dims.every((d) => DIMENSION_RE.test(d) && +d >= MIN_DIMENSION && +d <= maxDimension)) {
    throw new TypeError(bad);
  }
  return size;
}

// checkExpires turns a Date or Unix seconds into the exp token.
function checkExpires(expires) {
  let seconds = expires;
  if (expires instanceof Date) {
    seconds = Math.floor(expires.getTime() / 1000);
  } else if (typeof expires !== 'number') {
    throw new TypeError('cover-url-signer: expires must be a Date or Unix seconds (a number)');
  }
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new TypeError('cover-url-signer: expires must be a valid Date or a non-negative integer of Unix seconds');
  }
  if (seconds > MAX_EXPIRES) {
    throw new TypeError('cover-url-signer: expires is too large: pass Unix seconds (Date.now() / 1000) or a Date, not milliseconds');
  }
  return String(seconds);
}

// collectParams groups parameter values by name, skipping sig.
function collectParams(params) {
  const byName = new Map();
  if (params === undefined || params === null) {
    return byName;
  }
  if (typeof params !== 'object') {
    throw new TypeError('cover-url-signer: params must be an object, a Map, a URLSearchParams or [name, value] pairs');
  }
  // URLSearchParams, Map and arrays of pairs iterate as [name, value].
  const entries = typeof params[Symbol.iterator] === 'function' ? params : Object.entries(params);
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') {
      throw new TypeError('cover-url-signer: parameters must be [name, value] pairs with string names');
    }
    const [name, value] = entry;
    if (name === 'sig') {
      continue;
    }
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === undefined || v === null) {
        continue;
      }
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint') {
        throw new TypeError(`cover-url-signer: parameter ${JSON.stringify(name)} must be a string, a number or an array of them`);
      }
      if (!byName.has(name)) {
        byName.set(name, []);
      }
      byName.get(name).push(String(v));
    }
  }
  return byName;
}

// compareUTF8 orders strings by their UTF-8 bytes, as Go sorts strings. Plain
// JS comparison uses UTF-16 code units, which differs above U+FFFF.
function compareUTF8(a, b) {
  if (a === b) {
    return 0;
  }
  const enc = new TextEncoder();
  const x = enc.encode(a);
  const y = enc.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    if (x[i] !== y[i]) {
      return x[i] - y[i];
    }
  }
  return x.length - y.length;
}

function base64url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i++) {
    bin += String.fromCharCode(bytes[i]);
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

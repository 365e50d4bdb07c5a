// The signing scheme without the HMAC: what both builds of
// @bookcovers/cover-url-signer share (web.mjs on Web Crypto, node.mjs adding
// synchronous signing on node:crypto). Not a public entry point.
//
//   canonical = path                                   when there are no parameters
//   canonical = path + "?" + name=value&...            every parameter but sig, sorted
//                                                      by name then value (UTF-8 bytes),
//                                                      names and values unescaped
//   sig       = base64url without padding of HMAC-SHA256(key, canonical)
//
// Every signing call is described by a plan: the canonical strings to sign
// and a finish function that turns their signed paths into the result. The
// async build signs a plan's strings with crypto.subtle, the sync build with
// createHmac; neither repeats the validation or the assembly.

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
/** The Content-Type of each format, for <source type>. */
export const CONTENT_TYPES = Object.freeze({ webp: 'image/webp', avif: 'image/avif', jpg: 'image/jpeg' });

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
const COVER_FIELDS = ['bookId', 'size', 'format', 'version', 'expires', 'presets', 'maxDimension'];
const META_FIELDS = ['bookId', 'version', 'expires'];

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

/** plan(canonicals, finish): see the top of this file. */
function plan(canonicals, finish) {
  return { canonicals, finish };
}

/**
 * Runs a plan's finish with the signatures of its canonical strings, in
 * order: each signed path is the canonical string with sig appended, exactly
 * signing.CanonicalURL for the cover and meta.json paths (their parts need no
 * escaping).
 */
export function finishPlan(p, sigs) {
  return p.finish(p.canonicals.map((c, i) => c + (c.includes('?') ? '&' : '?') + 'sig=' + sigs[i]));
}

/** The plan of signCoverPath: the signed path and query of one cover. */
export function coverPathPlan(params) {
  return plan([coverCanonical(params)], ([path]) => path);
}

/** The plan of coverURL: baseURL (trailing slashes removed) + the signed path. */
export function coverURLPlan(baseURL, params) {
  const base = checkBaseURL(baseURL);
  return plan([coverCanonical(params)], ([path]) => base + path);
}

/** The plan of coverMetaURL: baseURL + the signed /covers/{bookId}/meta.json. */
export function metaURLPlan(baseURL, params) {
  const base = checkBaseURL(baseURL);
  checkFields(params, META_FIELDS, '{bookId, version?, expires?}');
  const bookId = checkBookId(params.bookId);
  return plan([withQuery(`/covers/${bookId}/meta.json`, params.version, params.expires)], ([path]) => base + path);
}

/**
 * coverCanonical validates a cover's parameters like the service does and
 * returns its canonical string: /covers/{bookId}/{size}.{format}, then exp
 * and v when given (in that order: sorted).
 */
export function coverCanonical(params) {
  checkFields(params, COVER_FIELDS, '{bookId, size, format, version?, expires?}');
  const bookId = checkBookId(params.bookId);
  if (!FORMATS.includes(params.format)) {
    throw new TypeError('cover-url-signer: format must be "webp", "avif" or "jpg"');
  }
  const size = checkSize(params.size, params.presets, params.maxDimension);
  return withQuery(`/covers/${bookId}/${size}.${params.format}`, params.version, params.expires);
}

function withQuery(path, version, expires) {
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
  return query.length === 0 ? path : path + '?' + query.join('&');
}

function checkFields(params, fields, shape) {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new TypeError(`cover-url-signer: params must be an object ${shape}`);
  }
  for (const field of Object.keys(params)) {
    if (!fields.includes(field)) {
      throw new TypeError(`cover-url-signer: unknown field ${JSON.stringify(field)} (want ${fields.join(', ')})`);
    }
  }
}

/** checkBookId returns bookId when the service accepts it. */
export function checkBookId(bookId) {
  if (typeof bookId !== 'string' || bookId.length < 1 || bookId.length > MAX_BOOK_ID_LENGTH || !BOOK_ID_RE.test(bookId)) {
    throw new TypeError(`cover-url-signer: bookId must be 1-${MAX_BOOK_ID_LENGTH} characters of A-Z a-z 0-9 . _ - not starting with "."`);
  }
  return bookId;
}

/**
 * checkSize accepts a preset name, a width (number or "W"), a box "WxH"
 * (filled) or "WxHf" (the whole cover fitted inside, padded), each
 * dimension a canonical decimal in [MIN_DIMENSION, maxDimension], and
 * returns it as a string.
 */
export function checkSize(size, presets = DEFAULT_PRESETS, maxDimension = DEFAULT_MAX_DIMENSION) {
  if (!Array.isArray(presets) || !presets.every((p) => typeof p === 'string' && PRESET_RE.test(p))) {
    throw new TypeError('cover-url-signer: presets must be an array of lowercase names');
  }
  if (!Number.isInteger(maxDimension) || maxDimension < MIN_DIMENSION) {
    throw new TypeError(`cover-url-signer: maxDimension must be an integer of at least ${MIN_DIMENSION}`);
  }
  const bad = `cover-url-signer: size must be a preset (${presets.join(', ')}), a width, "WxH" or "WxHf" with dimensions in ${MIN_DIMENSION}..${maxDimension}`;
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
  const fit = size.endsWith('f');
  const dims = (fit ? size.slice(0, -1) : size).split('x');
  if (dims.length > 2 || (fit && dims.length !== 2) || !dims.every((d) => DIMENSION_RE.test(d) && +d >= MIN_DIMENSION && +d <= maxDimension)) {
    throw new TypeError(bad);
  }
  return size;
}

/** isPreset reports whether size is spelled like a preset name. */
export function isPreset(size) {
  return typeof size === 'string' && PRESET_RE.test(size);
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

/**
 * checkBaseURL returns baseURL without trailing slashes; "" gives relative
 * paths. It must not carry a query or a fragment, nor whitespace (which
 * would also split a srcset candidate).
 */
export function checkBaseURL(baseURL) {
  if (typeof baseURL !== 'string') {
    throw new TypeError('cover-url-signer: baseURL must be a string');
  }
  if (/[?#]/.test(baseURL)) {
    throw new TypeError('cover-url-signer: baseURL must not contain a query or fragment');
  }
  if (/\s/.test(baseURL)) {
    throw new TypeError('cover-url-signer: baseURL must not contain whitespace');
  }
  return baseURL.replace(/\/+$/, '');
}

/**
 * decodeKey checks and decodes one hex key (the format of
 * IMAGE_SIGNING_KEYS). Messages never contain key material.
 */
export function decodeKey(keyHex) {
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

/** base64url without padding of bytes. */
export function base64url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i++) {
    bin += String.fromCharCode(bytes[i]);
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

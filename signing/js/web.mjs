// @bookcovers/cover-url-signer, the Web Crypto build: signs image-worker
// cover URLs asynchronously with crypto.subtle. The package's "browser" and
// "default" export: browsers, edge runtimes (Cloudflare Workers, Deno, Vercel
// and Netlify Edge) and any ES module runtime with Web Crypto. On Node.js the
// "node" export, node.mjs, adds synchronous signing on top of this file.
//
// The *Sync functions exist here only to throw a clear error: Web Crypto
// cannot sign synchronously.
//
// The signing key is a secret: sign on a server (backend-for-frontend, edge
// function), never ship the key to a browser. See README.md. The shared test
// vectors in ../testdata/vectors.json are checked against both builds and the
// Go implementation.

import { base64url, coverPathPlan, coverURLPlan, decodeKey, finishPlan, metaURLPlan } from './core.mjs';
import { picturePlan, srcSetPlan } from './markup.mjs';

export { CONTENT_TYPES, DEFAULT_MAX_DIMENSION, DEFAULT_PRESETS, FORMATS, MIN_DIMENSION, canonical } from './core.mjs';
export { CoverMetaError, fetchCoverMeta } from './meta.mjs';

/**
 * Returns the signed path and query of a cover, exactly as the Go
 * Signer.SignedURL returns it: /covers/{bookId}/{size}.{format}, then exp and
 * v when given (in that order), then sig.
 */
export async function signCoverPath(params, keyHex) {
  return run(coverPathPlan(params), keyHex);
}

/**
 * Returns baseURL (trailing slashes removed) followed by the signed cover
 * path: the value to put in an <img src>.
 */
export async function coverURL(baseURL, params, keyHex) {
  return run(coverURLPlan(baseURL, params), keyHex);
}

/** Returns baseURL followed by the signed /covers/{bookId}/meta.json?[exp][&v]&sig. */
export async function coverMetaURL(baseURL, params, keyHex) {
  return run(metaURLPlan(baseURL, params), keyHex);
}

/** Returns {src, srcset, sizes} of one format for an <img> or a <source>. */
export async function coverSrcSet(book, options, keyHex) {
  return run(srcSetPlan(book, options), keyHex);
}

/** Returns the <source> list (AVIF, then WebP) and the <img> (JPEG) of a <picture>. */
export async function coverPicture(book, options, keyHex) {
  return run(picturePlan(book, options), keyHex);
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
  return mac(canonicalString, await resolveKey(keyHex));
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

// The *Sync functions of node.mjs, which Web Crypto cannot offer: each
// throws at once, naming itself and the way out.
export function signCoverPathSync() { syncUnavailable('signCoverPathSync'); }
export function coverURLSync() { syncUnavailable('coverURLSync'); }
export function coverMetaURLSync() { syncUnavailable('coverMetaURLSync'); }
export function coverSrcSetSync() { syncUnavailable('coverSrcSetSync'); }
export function coverPictureSync() { syncUnavailable('coverPictureSync'); }

function syncUnavailable(name) {
  throw new Error(`cover-url-signer: ${name} needs node:crypto, and this is the Web Crypto build ` +
    '(browsers, edge runtimes), which signs asynchronously only: await the function without "Sync", or sign on ' +
    'Node.js, where the package\'s "node" export condition selects the build with synchronous signing');
}

// run signs every canonical string of a plan with one imported key.
async function run(plan, keyHex) {
  const key = await resolveKey(keyHex);
  return finishPlan(plan, await Promise.all(plan.canonicals.map((c) => mac(c, key))));
}

async function mac(canonicalString, key) {
  const subtle = await getSubtle();
  const sig = await subtle.sign('HMAC', key, new TextEncoder().encode(canonicalString));
  return base64url(new Uint8Array(sig));
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

// @bookcovers/cover-url-signer, the Node.js build (the package's "node"
// export condition): everything of the Web Crypto build, web.mjs, plus
// synchronous signing on node:crypto's createHmac, for code that cannot
// await, such as a Next.js image loader run on the server.
//
// Each *Sync function takes the same arguments and returns the same value as
// its async twin, except that the key must be a hex string (a CryptoKey from
// importKey is for the async functions).

import { createHmac } from 'node:crypto';

import { coverPathPlan, coverURLPlan, decodeKey, finishPlan, metaURLPlan } from './core.mjs';
import { picturePlan, srcSetPlan } from './markup.mjs';

// The *Sync names declared below take precedence over web.mjs's throwing
// ones: an ES module's own exports shadow the names of its `export *`.
export * from './web.mjs';

/** signCoverPath, synchronously: the signed path and query of a cover. */
export function signCoverPathSync(params, keyHex) {
  return runSync(coverPathPlan(params), keyHex);
}

/** coverURL, synchronously: baseURL followed by the signed cover path. */
export function coverURLSync(baseURL, params, keyHex) {
  return runSync(coverURLPlan(baseURL, params), keyHex);
}

/** coverMetaURL, synchronously: baseURL followed by the signed meta.json path. */
export function coverMetaURLSync(baseURL, params, keyHex) {
  return runSync(metaURLPlan(baseURL, params), keyHex);
}

/** coverSrcSet, synchronously: {src, srcset, sizes} of one format. */
export function coverSrcSetSync(book, options, keyHex) {
  return runSync(srcSetPlan(book, options), keyHex);
}

/** coverPicture, synchronously: the <source> list and the <img> of a <picture>. */
export function coverPictureSync(book, options, keyHex) {
  return runSync(picturePlan(book, options), keyHex);
}

function runSync(plan, keyHex) {
  if (typeof keyHex !== 'string') {
    throw new TypeError('cover-url-signer: the *Sync functions take the key as a hex string (a CryptoKey from importKey signs with the async functions)');
  }
  const key = decodeKey(keyHex);
  return finishPlan(plan, plan.canonicals.map((c) => createHmac('sha256', key).update(c, 'utf8').digest('base64url')));
}

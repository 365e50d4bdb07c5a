// Shared by the *.test.mjs files (not part of the package): the vectors and
// the three signers under test, so that one table checks every build.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import * as node from './node.mjs';
import * as web from './web.mjs';

export const vectors = JSON.parse(await readFile(new URL('../testdata/vectors.json', import.meta.url), 'utf8'));
/** The key of the README vectors. */
export const README_KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';

const SIGNING = ['signCoverPath', 'coverURL', 'coverMetaURL', 'coverSrcSet', 'coverPicture'];

// sync wraps a *Sync function in the async shape of its twin, checking that
// it answered at once: a thrown error becomes a rejection, so the same
// assert.rejects tables apply.
function sync(fn) {
  return async (...args) => {
    const got = fn(...args);
    assert.ok(!(got instanceof Promise), `${fn.name} returned a Promise, want its value`);
    return got;
  };
}

/**
 * The signers: the Web Crypto build, the Node build's async functions (the
 * same code, reached through node.mjs's re-export) and its sync ones.
 */
export const signers = [
  { name: 'web', ...pick((f) => web[f]) },
  { name: 'node', ...pick((f) => node[f]) },
  { name: 'node sync', sync: true, ...pick((f) => sync(node[f + 'Sync'])) },
];

function pick(get) {
  return Object.fromEntries(SIGNING.map((f) => [f, get(f)]));
}

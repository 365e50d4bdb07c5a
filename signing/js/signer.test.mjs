// Tests for both builds of the signer, web.mjs (Web Crypto, async) and
// node.mjs (adding sync signing on node:crypto), against the vectors the Go
// implementation is tested with (../testdata/vectors.json). Run:
// node --test signing/js/*.test.mjs (Node 18+).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { canonical, importKey, sign, DEFAULT_PRESETS } from './web.mjs';
import * as web from './web.mjs';
import { README_KEY, signers, vectors } from './testkit.mjs';

const readme3 = vectors.find((v) => v.name === 'readme expiry and version');

test('vectors file has the README vectors and negative cases', () => {
  assert.ok(readme3, 'vector "readme expiry and version" missing');
  assert.equal(readme3.sig, 'BOtkfzNf-KHKp-fbS75IiQOW4EahyFKi8hJjWbFEBKk');
  assert.ok(vectors.some((v) => v.must_fail && /path/.test(v.name)), 'no tampered path vector');
  assert.ok(vectors.some((v) => v.must_fail && /sig/.test(v.name)), 'no tampered sig vector');
  assert.ok(vectors.some((v) => !v.must_fail && v.verify_keys && v.verify_keys.length > 1), 'no rotation vector');
});

for (const v of vectors) {
  test(`vector: ${v.name}`, async (t) => {
    assert.equal(canonical(v.path, v.params), v.canonical, `canonical(${v.path}, ${JSON.stringify(v.params)})`);
    const verifyKeys = v.verify_keys || [v.key_hex];
    const sigs = await Promise.all(verifyKeys.map((k) => sign(v.canonical, k)));
    for (const s of sigs) {
      assert.match(s, /^[A-Za-z0-9_-]{43}$/);
    }
    if (v.must_fail) {
      assert.ok(!sigs.includes(v.sig), `sig ${v.sig} verified with one of ${verifyKeys.length} keys, want rejected`);
      return;
    }
    assert.ok(sigs.includes(v.sig), `sig ${v.sig} not produced by any of ${verifyKeys.length} verify keys`);
    assert.equal(await sign(v.canonical, v.key_hex), v.sig, `sign(${v.canonical})`);
    assert.equal(await sign(v.canonical, await importKey(v.key_hex)), v.sig, 'sign with importKey');
    const meta = /^\/covers\/([^/]+)\/meta\.json$/.exec(v.path);
    for (const s of signers) {
      await t.test(s.name, async () => {
        if (meta) {
          const params = { bookId: meta[1], version: v.params.v, expires: v.params.exp === undefined ? undefined : Number(v.params.exp) };
          assert.equal(await s.coverMetaURL('', params, v.key_hex), v.signed_path, `coverMetaURL('', ${JSON.stringify(params)})`);
          assert.equal(await s.coverMetaURL('https://covers.example.com/', params, v.key_hex), 'https://covers.example.com' + v.signed_path);
        }
        if (v.input) {
          await checkInput(s, v);
        }
      });
    }
  });
}

// checkInput checks signCoverPath and coverURL of one signer on a vector's
// structured input, in each spelling the input allows.
async function checkInput(s, v) {
  assert.equal(await s.signCoverPath(v.input, v.key_hex), v.signed_path, `signCoverPath(${JSON.stringify(v.input)})`);
  assert.equal(await s.coverURL('https://covers.example.com/', v.input, v.key_hex), 'https://covers.example.com' + v.signed_path);
  if (v.input.expires !== undefined) {
    const asDate = { ...v.input, expires: new Date(v.input.expires * 1000 + 999) };
    assert.equal(await s.signCoverPath(asDate, v.key_hex), v.signed_path, 'expires as a Date');
  }
  if (/^[0-9]+$/.test(v.input.size)) {
    const asNumber = { ...v.input, size: Number(v.input.size) };
    assert.equal(await s.signCoverPath(asNumber, v.key_hex), v.signed_path, 'size as a number');
  }
}

test('canonical', async (t) => {
  const cases = [
    { name: 'no params', path: '/c/x.webp', params: undefined, want: '/c/x.webp' },
    { name: 'empty object', path: '/c/x.webp', params: {}, want: '/c/x.webp' },
    { name: 'sorted by name', path: '/c', params: { v: 'b', exp: '1' }, want: '/c?exp=1&v=b' },
    { name: 'sig ignored', path: '/c', params: { sig: 'zzz', v: 'b' }, want: '/c?v=b' },
    { name: 'only sig', path: '/c', params: { sig: 'zzz' }, want: '/c' },
    { name: 'several values sorted', path: '/c', params: { a: ['2', '10', '1'] }, want: '/c?a=1&a=10&a=2' },
    { name: 'empty array and null skipped', path: '/c', params: { a: [], b: null, c: undefined, d: '' }, want: '/c?d=' },
    { name: 'numbers', path: '/c', params: { exp: 1893456000 }, want: '/c?exp=1893456000' },
    { name: 'utf-8 order, not utf-16', path: '/c', params: { '\u{1F600}': '2', '\uFF61': '1' }, want: '/c?\uFF61=1&\u{1F600}=2' },
    { name: 'URLSearchParams', path: '/c', params: new URLSearchParams('v=b&sig=x&exp=1&a=2&a=1'), want: '/c?a=1&a=2&exp=1&v=b' },
    { name: 'Map', path: '/c', params: new Map([['v', 'b'], ['exp', ['1']]]), want: '/c?exp=1&v=b' },
    { name: 'array of pairs', path: '/c', params: [['v', 'b'], ['a', '2'], ['a', '1']], want: '/c?a=1&a=2&v=b' },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      assert.equal(canonical(c.path, c.params), c.want);
    });
  }
  assert.throws(() => canonical(42, {}), TypeError);
  assert.throws(() => canonical('/c', 'v=1'), TypeError);
  assert.throws(() => canonical('/c', { v: { nested: true } }), TypeError);
  assert.throws(() => canonical('/c', ['v=1']), TypeError);
  assert.throws(() => canonical('/c', [[1, '2']]), TypeError);
});

test('signCoverPath rejects what the service rejects', async (t) => {
  const good = { bookId: 'B123', size: '320x480', format: 'webp' };
  const cases = [
    { name: 'params null', params: null, msg: /params/ },
    { name: 'unknown field', params: { ...good, versoin: 'abc' }, msg: /unknown field "versoin"/ },
    { name: 'missing bookId', params: { size: '320', format: 'webp' }, msg: /bookId/ },
    { name: 'empty bookId', params: { ...good, bookId: '' }, msg: /bookId/ },
    { name: 'numeric bookId', params: { ...good, bookId: 123 }, msg: /bookId/ },
    { name: 'leading dot', params: { ...good, bookId: '.hidden' }, msg: /bookId/ },
    { name: 'dot dot', params: { ...good, bookId: '..' }, msg: /bookId/ },
    { name: 'slash', params: { ...good, bookId: 'a/b' }, msg: /bookId/ },
    { name: 'space', params: { ...good, bookId: 'a b' }, msg: /bookId/ },
    { name: 'non-ascii', params: { ...good, bookId: 'caf\u00e9' }, msg: /bookId/ },
    { name: '129 characters', params: { ...good, bookId: 'a'.repeat(129) }, msg: /bookId/ },
    { name: 'unknown preset', params: { ...good, size: 'huge' }, msg: /size/ },
    { name: 'upper-case preset', params: { ...good, size: 'Medium' }, msg: /size/ },
    { name: 'empty size', params: { ...good, size: '' }, msg: /size/ },
    { name: 'width too small', params: { ...good, size: '15' }, msg: /size/ },
    { name: 'width too large', params: { ...good, size: '2049' }, msg: /size/ },
    { name: 'number too small', params: { ...good, size: 15 }, msg: /size/ },
    { name: 'fractional number', params: { ...good, size: 320.5 }, msg: /size/ },
    { name: 'leading zero', params: { ...good, size: '0320' }, msg: /size/ },
    { name: 'box without height', params: { ...good, size: '320x' }, msg: /size/ },
    { name: 'box without width', params: { ...good, size: 'x480' }, msg: /size/ },
    { name: 'box height too small', params: { ...good, size: '320x15' }, msg: /size/ },
    { name: 'three dimensions', params: { ...good, size: '16x16x16' }, msg: /size/ },
    { name: 'fit without a box', params: { ...good, size: '320f' }, msg: /size/ },
    { name: 'fit upper-case', params: { ...good, size: '320x480F' }, msg: /size/ },
    { name: 'fit twice', params: { ...good, size: '320x480ff' }, msg: /size/ },
    { name: 'fit height too large', params: { ...good, size: '320x2049f' }, msg: /size/ },
    { name: 'signed width', params: { ...good, size: '+320' }, msg: /size/ },
    { name: 'dotted size', params: { ...good, size: '320.5' }, msg: /size/ },
    { name: 'png', params: { ...good, format: 'png' }, msg: /format/ },
    { name: 'upper-case format', params: { ...good, format: 'WEBP' }, msg: /format/ },
    { name: 'jpeg spelled out', params: { ...good, format: 'jpeg' }, msg: /format/ },
    { name: 'missing format', params: { bookId: 'B123', size: '320' }, msg: /format/ },
    { name: 'empty version', params: { ...good, version: '' }, msg: /version/ },
    { name: 'dotted version', params: { ...good, version: 'a.b' }, msg: /version/ },
    { name: '65-character version', params: { ...good, version: 'a'.repeat(65) }, msg: /version/ },
    { name: 'numeric version', params: { ...good, version: 3 }, msg: /version/ },
    { name: 'negative expires', params: { ...good, expires: -1 }, msg: /expires/ },
    { name: 'fractional expires', params: { ...good, expires: 1893456000.5 }, msg: /expires/ },
    { name: 'NaN expires', params: { ...good, expires: NaN }, msg: /expires/ },
    { name: 'invalid Date', params: { ...good, expires: new Date(NaN) }, msg: /expires/ },
    { name: 'string expires', params: { ...good, expires: '1893456000' }, msg: /expires/ },
    { name: 'milliseconds', params: { ...good, expires: 1893456000000 }, msg: /milliseconds/ },
    { name: 'bad presets option', params: { ...good, presets: ['Big'] }, msg: /presets/ },
    { name: 'bad maxDimension option', params: { ...good, maxDimension: 8 }, msg: /maxDimension/ },
  ];
  for (const s of signers) {
    for (const c of cases) {
      await t.test(`${s.name}: ${c.name}`, async () => {
        await assert.rejects(s.signCoverPath(c.params, README_KEY), (err) => {
          assert.ok(err instanceof TypeError, `got ${err}, want a TypeError`);
          assert.match(err.message, c.msg);
          return true;
        });
      });
    }
  }
});

test('bad keys are rejected without echoing key material', async (t) => {
  const params = { bookId: 'B123', size: '320', format: 'webp' };
  const cases = [
    { name: 'empty', key: '', msg: /empty/ },
    { name: 'odd digits', key: README_KEY.slice(0, 63), msg: /hex/ },
    { name: 'not hex', key: 'zz' + README_KEY.slice(2), msg: /hex/ },
    { name: '15 bytes', key: README_KEY.slice(0, 30), msg: /15 bytes/ },
    { name: 'key list', key: README_KEY + ',' + README_KEY, msg: /one key/ },
    { name: 'number', key: 1234, msg: /key/ },
    { name: 'null', key: null, msg: /key/ },
    { name: 'not a CryptoKey', key: { type: 'secret' }, msg: /CryptoKey/ },
  ];
  for (const s of signers) {
    for (const c of cases) {
      await t.test(`${s.name}: ${c.name}`, async () => {
        await assert.rejects(s.signCoverPath(params, c.key), (err) => {
          assert.ok(err instanceof TypeError, `got ${err}, want a TypeError`);
          assert.match(err.message, c.msg);
          if (typeof c.key === 'string' && c.key.length >= 16) {
            assert.ok(!err.message.includes(c.key.slice(2, 18)), `message ${err.message} contains key material`);
          }
          return true;
        });
      });
    }
  }
  await assert.rejects(sign(42, README_KEY), TypeError);
  await assert.rejects(importKey('abcd'), TypeError);
});

test('keys: trimmed, upper case and 16 bytes accepted; other keys give other sigs', async () => {
  const canon = readme3.canonical;
  assert.equal(await sign(canon, ` ${README_KEY.toUpperCase()}\n`), readme3.sig);
  const short = await sign(canon, README_KEY.slice(0, 32));
  assert.match(short, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(short, readme3.sig);
  for (const s of signers) {
    assert.equal(await s.signCoverPath(readme3.input, ` ${README_KEY.toUpperCase()}\n`), readme3.signed_path, `${s.name}: trimmed upper-case key`);
    assert.equal(await s.signCoverPath(readme3.input, README_KEY.slice(0, 32)), readme3.path + '?' + canon.split('?')[1] + '&sig=' + short, `${s.name}: 16-byte key`);
  }
});

test('the async functions take a key from importKey, the sync ones refuse it', async () => {
  const key = await importKey(README_KEY);
  for (const s of signers) {
    if (s.sync) {
      await assert.rejects(s.signCoverPath(readme3.input, key), /hex string/);
      continue;
    }
    assert.equal(await s.signCoverPath(readme3.input, key), readme3.signed_path, s.name);
  }
});

test('the Web Crypto build has no sync signing: each *Sync function throws, naming itself', () => {
  for (const name of ['signCoverPathSync', 'coverURLSync', 'coverMetaURLSync', 'coverSrcSetSync', 'coverPictureSync']) {
    assert.throws(() => web[name](readme3.input, README_KEY), (err) => {
      assert.ok(err instanceof Error && !(err instanceof TypeError), `${name}: got ${err}, want an Error`);
      assert.match(err.message, new RegExp(`^cover-url-signer: ${name} needs node:crypto, and this is the Web Crypto build`));
      assert.match(err.message, /await the function without "Sync"/);
      return true;
    });
  }
});

test('deployment options: custom presets and maxDimension', async (t) => {
  const key = README_KEY;
  for (const s of signers) {
    await t.test(s.name, async () => {
      const huge = await s.signCoverPath({ bookId: 'B123', size: 'huge', format: 'avif', presets: ['huge'] }, key);
      assert.equal(huge, `/covers/B123/huge.avif?sig=${await sign('/covers/B123/huge.avif', key)}`);
      await assert.rejects(s.signCoverPath({ bookId: 'B123', size: 'thumb', format: 'avif', presets: ['huge'] }, key), TypeError);
      const big = await s.signCoverPath({ bookId: 'B123', size: '4096x16', format: 'webp', maxDimension: 4096 }, key);
      assert.equal(big, `/covers/B123/4096x16.webp?sig=${await sign('/covers/B123/4096x16.webp', key)}`);
      for (const preset of DEFAULT_PRESETS) {
        const got = await s.signCoverPath({ bookId: 'B123', size: preset, format: 'webp' }, key);
        assert.equal(got, `/covers/B123/${preset}.webp?sig=${await sign(`/covers/B123/${preset}.webp`, key)}`);
      }
    });
  }
});

test('coverURL joins the base URL', async (t) => {
  const params = readme3.input;
  const cases = [
    { name: 'no trailing slash', base: 'https://covers.example.com', want: 'https://covers.example.com' + readme3.signed_path },
    { name: 'trailing slashes', base: 'https://covers.example.com//', want: 'https://covers.example.com' + readme3.signed_path },
    { name: 'path prefix', base: 'https://cdn.example.com/img/', want: 'https://cdn.example.com/img' + readme3.signed_path },
    { name: 'empty: a relative URL', base: '', want: readme3.signed_path },
  ];
  for (const s of signers) {
    for (const c of cases) {
      await t.test(`${s.name}: ${c.name}`, async () => {
        assert.equal(await s.coverURL(c.base, params, readme3.key_hex), c.want);
      });
    }
    for (const base of ['https://covers.example.com/?a=1', 'https://covers.example.com/#x', 'https://covers.example.com/a b', undefined]) {
      await assert.rejects(s.coverURL(base, params, README_KEY), TypeError, `${s.name}: coverURL(${base})`);
      await assert.rejects(s.coverMetaURL(base, { bookId: 'B123' }, README_KEY), TypeError, `${s.name}: coverMetaURL(${base})`);
    }
  }
});

test('coverMetaURL rejects what the service rejects', async (t) => {
  const cases = [
    { name: 'params null', params: null, msg: /params/ },
    { name: 'a cover field', params: { bookId: 'B123', size: '320' }, msg: /unknown field "size"/ },
    { name: 'leading dot', params: { bookId: '.x' }, msg: /bookId/ },
    { name: 'dotted version', params: { bookId: 'B123', version: 'a.b' }, msg: /version/ },
    { name: 'milliseconds', params: { bookId: 'B123', expires: Date.now() }, msg: /milliseconds/ },
  ];
  for (const s of signers) {
    for (const c of cases) {
      await t.test(`${s.name}: ${c.name}`, async () => {
        await assert.rejects(s.coverMetaURL('', c.params, README_KEY), (err) => err instanceof TypeError && c.msg.test(err.message));
      });
    }
  }
});

test('falls back to node:crypto when globalThis.crypto is missing (Node 18)', async () => {
  // A child process, so deleting the global cannot affect the other tests.
  const moduleURL = new URL('./web.mjs', import.meta.url).href;
  const script = `
    delete globalThis.crypto;
    const { signCoverPath } = await import(${JSON.stringify(moduleURL)});
    const got = await signCoverPath(${JSON.stringify(readme3.input)}, ${JSON.stringify(readme3.key_hex)});
    console.log(JSON.stringify({ got, cryptoGlobal: typeof globalThis.crypto }));
  `;
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('.', import.meta.url)) },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  const { got, cryptoGlobal } = JSON.parse(out);
  assert.equal(cryptoGlobal, 'undefined', 'the child still had globalThis.crypto');
  assert.equal(got, readme3.signed_path);
});

// Tests for coverMetaURL and fetchCoverMeta: answers of a fake fetch, then a
// real GET over loopback to a server that checks the signature the way the
// service does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';

import { CoverMetaError, canonical, coverMetaURL, fetchCoverMeta } from './web.mjs';
import { README_KEY } from './testkit.mjs';

const V = '3f9a1c2b7d4e';
// A meta.json body as the service answers it (openapi.yaml, CoverMeta).
const META = Object.freeze({
  book_id: 'B123',
  version: V,
  source_url: 'https://images.example.com/b123.jpg',
  source_url_sha256: '32698cf322d2132c41d2dae6a07b10629dd9e9412a093e89d9a0b59f301bedf3',
  width: 1600,
  height: 2400,
  format: 'jpeg',
  bytes: 362325,
  dominant_color: '#7a5c3e',
  blurhash: 'T~LrbSoyfQ~XoMfQs;fQfQEKayfQ',
  lqip: 'data:image/webp;base64,UklGRg==',
  covers: {
    thumb: { webp: `/covers/B123/thumb.webp?v=${V}&sig=x`, avif: `/covers/B123/thumb.avif?v=${V}&sig=y` },
  },
});

// answer returns a fake fetch that records its calls and answers status with body.
function answer(status, body) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return new Response(text, { status, headers: { 'content-type': 'application/json' } });
  };
  return { fetch, calls };
}

test('fetchCoverMeta returns the metadata, asks for JSON and passes the signal on', async () => {
  const { fetch, calls } = answer(200, META);
  const url = 'https://covers.example.com/covers/B123/meta.json?v=3f9a1c2b7d4e&sig=abc';
  const { signal } = new AbortController();
  assert.deepEqual(await fetchCoverMeta(url, { fetch, signal }), META);
  assert.deepEqual(await fetchCoverMeta(new URL(url), { fetch, signal }), META);
  assert.equal(calls.length, 2);
  for (const c of calls) {
    assert.equal(c.url, url);
    assert.equal(c.init.headers.accept, 'application/json');
    assert.equal(c.init.signal, signal);
  }
});

test('fetchCoverMeta: null for a book without a cover, CoverMetaError for other answers', async (t) => {
  const cases = [
    { name: 'no cover', status: 404, body: { error: { code: 'no_cover', message: 'no cover' } }, want: null },
    { name: 'unknown route', status: 404, body: { error: { code: 'not_found', message: 'not found' } }, code: 'not_found' },
    { name: 'bad signature', status: 403, body: { error: { code: 'bad_signature', message: 'forbidden' } }, code: 'bad_signature' },
    { name: 'expired', status: 410, body: { error: { code: 'expired', message: 'gone' } }, code: 'expired' },
    { name: 'a CDN page', status: 502, body: '<html>Bad Gateway</html>', code: 'http_502' },
    { name: 'not JSON', status: 200, body: '<html></html>', code: 'bad_response', msg: /not JSON/ },
    { name: 'an array', status: 200, body: [META], code: 'bad_response', msg: /not an object/ },
    { name: 'field missing', status: 200, body: { ...META, blurhash: undefined }, code: 'bad_response', msg: /field blurhash/ },
    { name: 'width a string', status: 200, body: { ...META, width: '1600' }, code: 'bad_response', msg: /field width/ },
    { name: 'covers without avif', status: 200, body: { ...META, covers: { thumb: { webp: '/x' } } }, code: 'bad_response', msg: /field covers/ },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const { fetch } = answer(c.status, c.body);
      const got = fetchCoverMeta('https://covers.example.com/covers/B123/meta.json?sig=x', { fetch });
      if (c.code === undefined) {
        assert.equal(await got, c.want);
        return;
      }
      await assert.rejects(got, (err) => {
        assert.ok(err instanceof CoverMetaError, `got ${err}, want a CoverMetaError`);
        assert.equal(err.status, c.status);
        assert.equal(err.code, c.code);
        assert.match(err.message, c.msg || new RegExp(`${c.status} ${c.code}`));
        return true;
      });
    });
  }
});

test('fetchCoverMeta rejects bad arguments', async () => {
  await assert.rejects(fetchCoverMeta(42), /url must be a string or a URL/);
  await assert.rejects(fetchCoverMeta('/covers/B123/meta.json', { fetch: 42 }), /needs fetch/);
  await assert.rejects(fetchCoverMeta('/covers/B123/meta.json', null), /options must be an object/);
});

test('coverMetaURL and fetchCoverMeta against a loopback server that verifies the signature', async () => {
  const seen = [];
  const server = createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    const params = Object.fromEntries([...u.searchParams].filter(([k]) => k !== 'sig'));
    const want = createHmac('sha256', Buffer.from(README_KEY, 'hex')).update(canonical(u.pathname, params)).digest('base64url');
    seen.push(req.url);
    if (u.searchParams.get('sig') !== want) {
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":{"code":"bad_signature","message":"forbidden"}}');
      return;
    }
    if (u.pathname !== '/covers/B123/meta.json') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"no_cover","message":"no cover"}}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(META));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    const url = await coverMetaURL(base, { bookId: 'B123', version: V, expires: 1893456000 }, README_KEY);
    assert.deepEqual(await fetchCoverMeta(url), META);
    assert.equal(await fetchCoverMeta(await coverMetaURL(base, { bookId: 'B124' }, README_KEY)), null);
    await assert.rejects(fetchCoverMeta(url.replace('B123', 'B124')), (err) => err.status === 403 && err.code === 'bad_signature');
    assert.deepEqual(seen, [
      '/covers/B123/meta.json?exp=1893456000&v=3f9a1c2b7d4e&sig=ntDVrxQ6mQ0z34mAj7zTj6NN9yGuJ0SXWwhcTv0fElQ',
      '/covers/B124/meta.json?sig=' + createHmac('sha256', Buffer.from(README_KEY, 'hex')).update('/covers/B124/meta.json').digest('base64url'),
      '/covers/B124/meta.json?exp=1893456000&v=3f9a1c2b7d4e&sig=ntDVrxQ6mQ0z34mAj7zTj6NN9yGuJ0SXWwhcTv0fElQ',
    ]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

// Tests for coverSrcSet and coverPicture, async (both builds) and sync (the
// Node build). The expected strings are literal: every signed path in them
// was printed by the Go signer (signing.Signer.SignedURL) with the README
// key, so the helpers are checked against the service, not against
// themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { README_KEY, signers } from './testkit.mjs';

const V = '3f9a1c2b7d4e';
const BASE = 'https://covers.example.com';

// Signed by the Go signer: /covers/B123/{size}.{format}?v=3f9a1c2b7d4e&sig=...
const signed = {
  '160.avif': '/covers/B123/160.avif?v=3f9a1c2b7d4e&sig=BzWmooMqp7-qBUrPn7UrPDW2lrmYwpsyQXno7__9dh8',
  '320.avif': '/covers/B123/320.avif?v=3f9a1c2b7d4e&sig=iTTGBZHuuamgFHnruyGn2vgqVFEoI4d7zMBOy9nryYc',
  '480.avif': '/covers/B123/480.avif?v=3f9a1c2b7d4e&sig=R8AY4ZejY_nZ21Gtv296Y9f3KjiMs-pSxkYP2g6EsmQ',
  '320x480.avif': '/covers/B123/320x480.avif?v=3f9a1c2b7d4e&sig=T8KDL_xxE6WHa9Eg5McinwQ7uf3P_l1w4i82VrkJMXA',
  '640x960.avif': '/covers/B123/640x960.avif?v=3f9a1c2b7d4e&sig=Rcc1711xFI4ID5U1CVhaPbfruC54a6XCAncXp3DGuL4',
  '160.webp': '/covers/B123/160.webp?v=3f9a1c2b7d4e&sig=cNIq80AFgoEOGbYPCYEYtS6g41E7mBObwnDIYEXXApQ',
  '320.webp': '/covers/B123/320.webp?v=3f9a1c2b7d4e&sig=ySw4IGS8mtodr8_Do3wKDzYAX9ZuTqzYk2mfFS33q1g',
  '480.webp': '/covers/B123/480.webp?v=3f9a1c2b7d4e&sig=DHdQe-UmbozNaZyxRfVNJ9mjvj8VrjAZaOhz2cYdPbg',
  '320x480.webp': '/covers/B123/320x480.webp?v=3f9a1c2b7d4e&sig=KyJXuzsgM-iD9l7malY1D_26aRq6w1mqNPFbXfrdNXE',
  '640x960.webp': '/covers/B123/640x960.webp?v=3f9a1c2b7d4e&sig=ARRtnARaWh70pGB5ClkpQDkUUXurELfIr_fODOV6xps',
  '160.jpg': '/covers/B123/160.jpg?v=3f9a1c2b7d4e&sig=xmyHbslVMUsZzM18B985vJWKBZ_dkZ-0umMH2t_GaAs',
  '320.jpg': '/covers/B123/320.jpg?v=3f9a1c2b7d4e&sig=M05vKl0fc_kEzhheSCHlTRGH9CqkvhOWuvdwSmkD7gw',
  '480.jpg': '/covers/B123/480.jpg?v=3f9a1c2b7d4e&sig=YyHO2w1jIDoLJrPiZwi6rEYMP2JTxfMjatGc-8EXbnU',
};
// With exp=1893456000 as well.
const expiring = {
  avif: '/covers/B123/320.avif?exp=1893456000&v=3f9a1c2b7d4e&sig=ms1p9z1_WffCAAd3jqM6uvxbBHW9j4wW6Eq1jCpNjpg',
  webp: '/covers/B123/320.webp?exp=1893456000&v=3f9a1c2b7d4e&sig=9GknecugjU7s2G6tq-l1LnFu7N-hkZZf6BQFKID_l3U',
  jpg: '/covers/B123/320.jpg?exp=1893456000&v=3f9a1c2b7d4e&sig=C4p63ahK7oVHS4P5IuBfsvXX38lRIWzwYJ8WwJyWXr0',
};

test('coverPicture: AVIF and WebP sources, a JPEG <img>, exact strings', async (t) => {
  const want = {
    sources: [
      {
        type: 'image/avif',
        srcset: `${signed['160.avif']} 160w, ${signed['320.avif']} 320w, ${signed['480.avif']} 480w`,
        sizes: '160px',
      },
      {
        type: 'image/webp',
        srcset: `${signed['160.webp']} 160w, ${signed['320.webp']} 320w, ${signed['480.webp']} 480w`,
        sizes: '160px',
      },
    ],
    img: {
      src: signed['160.jpg'],
      srcset: `${signed['160.jpg']} 160w, ${signed['320.jpg']} 320w, ${signed['480.jpg']} 480w`,
      sizes: '160px',
    },
  };
  for (const s of signers) {
    await t.test(s.name, async () => {
      assert.deepEqual(await s.coverPicture({ bookId: 'B123', version: V }, { sizes: [160, '320', 480] }, README_KEY), want);
      // The same with the version as an option, overriding the book's.
      assert.deepEqual(await s.coverPicture({ bookId: 'B123', version: 'old' }, { sizes: [160, 320, 480], version: V }, README_KEY), want);
    });
  }
});

test('coverPicture: boxes, a base URL, AVIF source and a WebP <img> for a service without JPEG', async (t) => {
  const want = {
    sources: [
      {
        type: 'image/avif',
        srcset: `${BASE}${signed['320x480.avif']} 320w, ${BASE}${signed['640x960.avif']} 640w`,
        sizes: '(min-width: 40em) 320px, 50vw',
      },
    ],
    img: {
      src: `${BASE}${signed['320x480.webp']}`,
      srcset: `${BASE}${signed['320x480.webp']} 320w, ${BASE}${signed['640x960.webp']} 640w`,
      sizes: '(min-width: 40em) 320px, 50vw',
    },
  };
  const options = {
    sizes: ['320x480', '640x960'], formats: ['avif'], fallbackFormat: 'webp', version: V,
    baseURL: BASE + '/', sizesAttribute: '(min-width: 40em) 320px, 50vw',
  };
  for (const s of signers) {
    await t.test(s.name, async () => {
      assert.deepEqual(await s.coverPicture('B123', options, README_KEY), want);
    });
  }
});

test('coverSrcSet: one format, exact strings', async (t) => {
  const cases = [
    {
      name: 'widths, relative paths',
      book: 'B123',
      options: { sizes: [160, 320, 480], format: 'webp', version: V },
      want: {
        src: signed['160.webp'],
        srcset: `${signed['160.webp']} 160w, ${signed['320.webp']} 320w, ${signed['480.webp']} 480w`,
        sizes: '160px',
      },
    },
    {
      name: 'candidates keep their order',
      book: { bookId: 'B123', version: V },
      options: { sizes: [320, 160], format: 'jpg' },
      want: { src: signed['320.jpg'], srcset: `${signed['320.jpg']} 320w, ${signed['160.jpg']} 160w`, sizes: '320px' },
    },
    {
      name: 'boxes and a base URL',
      book: 'B123',
      options: { sizes: ['320x480', '640x960'], format: 'avif', version: V, baseURL: BASE },
      want: {
        src: BASE + signed['320x480.avif'],
        srcset: `${BASE}${signed['320x480.avif']} 320w, ${BASE}${signed['640x960.avif']} 640w`,
        sizes: '320px',
      },
    },
  ];
  for (const format of ['avif', 'webp', 'jpg']) {
    cases.push({
      name: `expires as a Date, ${format}`,
      book: { bookId: 'B123', version: V },
      options: { sizes: [320], format, expires: new Date(1893456000 * 1000 + 999), sizesAttribute: '10rem' },
      want: { src: expiring[format], srcset: `${expiring[format]} 320w`, sizes: '10rem' },
    });
  }
  for (const s of signers) {
    for (const c of cases) {
      await t.test(`${s.name}: ${c.name}`, async () => {
        assert.deepEqual(await s.coverSrcSet(c.book, c.options, README_KEY), c.want);
      });
    }
  }
});

test('coverSrcSet and coverPicture reject what cannot make a srcset', async (t) => {
  const good = { sizes: [160, 320], format: 'webp' };
  const cases = [
    { name: 'book null', book: null, msg: /book must be a book id/ },
    { name: 'bad book id', book: '.x', msg: /bookId/ },
    { name: 'unknown book field', book: { bookId: 'B123', title: 'x' }, msg: /unknown book field "title"/ },
    { name: 'options missing', options: undefined, msg: /options must be an object/ },
    { name: 'unknown option', options: { ...good, size: 320 }, msg: /unknown option "size"/ },
    { name: 'no sizes', options: { format: 'webp' }, msg: /sizes must be a non-empty array/ },
    { name: 'empty sizes', options: { ...good, sizes: [] }, msg: /sizes must be a non-empty array/ },
    { name: 'a preset', options: { ...good, sizes: ['medium'] }, msg: /not presets/ },
    { name: 'same width twice', options: { ...good, sizes: [320, '320x480'] }, msg: /two candidates 320 wide/ },
    { name: 'width too large', options: { ...good, sizes: [4096] }, msg: /size/ },
    { name: 'width above maxDimension', options: { ...good, sizes: [160, 1280], maxDimension: 1024 }, msg: /size/ },
    { name: 'bad format', options: { ...good, format: 'png' }, msg: /format/ },
    { name: 'bad version', options: { ...good, version: 'a.b' }, msg: /version/ },
    { name: 'empty sizesAttribute', options: { ...good, sizesAttribute: ' ' }, msg: /sizesAttribute/ },
    { name: 'baseURL with a query', options: { ...good, baseURL: 'https://x/?a=1' }, msg: /baseURL/ },
  ];
  for (const s of signers) {
    for (const c of cases) {
      await t.test(`${s.name}: coverSrcSet, ${c.name}`, async () => {
        const options = 'options' in c ? c.options : good;
        await assert.rejects(s.coverSrcSet('book' in c ? c.book : 'B123', options, README_KEY), (err) => {
          assert.ok(err instanceof TypeError, `got ${err}, want a TypeError`);
          assert.match(err.message, c.msg);
          return true;
        });
      });
    }
    const pictureCases = [
      { name: 'format option of coverSrcSet', options: { sizes: [320], format: 'webp' }, msg: /unknown option "format"/ },
      { name: 'fallback among the sources', options: { sizes: [320], formats: ['avif', 'jpg'] }, msg: /formats must be distinct/ },
      { name: 'a format twice', options: { sizes: [320], formats: ['avif', 'avif'] }, msg: /formats must be distinct/ },
      { name: 'unknown source format', options: { sizes: [320], formats: ['png'] }, msg: /formats must be distinct/ },
      { name: 'unknown fallback format', options: { sizes: [320], fallbackFormat: 'png' }, msg: /format/ },
    ];
    for (const c of pictureCases) {
      await t.test(`${s.name}: coverPicture, ${c.name}`, async () => {
        await assert.rejects(s.coverPicture('B123', c.options, README_KEY), (err) => err instanceof TypeError && c.msg.test(err.message));
      });
    }
  }
});

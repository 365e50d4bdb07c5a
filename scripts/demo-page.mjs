#!/usr/bin/env node
// The demo page of `make run` (scripts/run-dev.sh) and of the browser test
// (systemtest/browser_test.go): plain HTML built with the JS package's sync
// API (signing/js/node.mjs), a grid of covers with <picture>/srcset, a box
// (the fit-mode spot), a placeholder, and each cover's meta.json blurhash
// painted before its image is loaded.
//
//   node scripts/demo-page.mjs --base http://127.0.0.1:8000 --key-file data/dev-signing.key \
//        --books sample-1,sample-2 --placeholder no-such-book --out data/demo.html
//   node scripts/demo-page.mjs --serve 127.0.0.1:8001 data/demo.html
//
// The page signs nothing: every URL in it was signed here, on the "server",
// with the first key of the key file (IMAGE_SIGNING_KEYS syntax). It fetches
// meta.json cross-origin, so the service must list the page's origin in
// ALLOW_ORIGINS. It must be served from an http origin (--serve, or the
// test's own server): a file:// page has the opaque origin "null", which
// the service refuses to allow (allowing "null" allows any sandboxed page).
//
// When the page has finished, <pre id="result"> holds JSON: for each tile
// what the browser chose and decoded (currentSrc, naturalWidth/Height), the
// formats offered, the original's size from meta.json, whether the blurhash
// was painted and whether before the image loaded, and every error the page
// saw (console.error, window errors, failed loads and fetches).

import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import { coverMetaURLSync, coverPictureSync } from '../signing/js/node.mjs';

// ---- Formats and the box tile ----------------------------------------------
// AVIF then WebP sources and a JPEG <img> (the fallback of browsers that
// take neither); the box tile shows the fit mode ({W}x{H}f: the whole cover
// inside the box, padded with its dominant colour). For the smart-crop fill
// instead: BOX = { sizes: ['160x160', '320x320'], expect: 'box' }. The
// browser test reads the expectation from each tile (data-expect).
const SOURCE_FORMATS = ['avif', 'webp'];
const FALLBACK_FORMAT = 'jpg';
const BOX = { sizes: ['160x160f', '320x320f'], expect: 'fit' };
// -----------------------------------------------------------------------------

const WIDTHS = [160, 320];

const attr = (s) => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      base: { type: 'string' },
      'key-file': { type: 'string' },
      books: { type: 'string', default: 'sample-1' },
      placeholder: { type: 'string', default: 'no-such-book' },
      out: { type: 'string' },
      serve: { type: 'string' },
    },
  });
  if (values.serve !== undefined) {
    serve(values.serve, positionals[0]);
    return;
  }
  const keys = values['key-file'] ? readFileSync(values['key-file'], 'utf8') : process.env.IMAGE_SIGNING_KEYS;
  if (!values.base || !keys || !values.out) {
    console.error('usage: demo-page.mjs --base URL [--key-file FILE] --out FILE [--books a,b] [--placeholder ID]\n' +
      '       (without --key-file, the key comes from IMAGE_SIGNING_KEYS)\n' +
      '       demo-page.mjs --serve HOST:PORT FILE');
    process.exit(2);
  }
  const key = keys.split(',')[0].trim();
  const books = values.books.split(',').map((b) => b.trim()).filter(Boolean);
  writeFileSync(values.out, page(values.base, key, books, values.placeholder));
  console.log(`>> demo page: ${values.out} (${books.length} covers, a box, a placeholder)`);
}

// tile is one grid cell: the <picture> waits in a <template> until the
// blurhash of meta.json is painted (or meta.json said there is none).
function tile(base, key, { label, bookId, sizes, expect, meta }) {
  const { sources, img } = coverPictureSync({ bookId },
    { sizes, baseURL: base, formats: SOURCE_FORMATS, fallbackFormat: FALLBACK_FORMAT }, key);
  const width = Number(String(sizes[0]).split('x')[0]);
  const height = String(sizes[0]).includes('x') ? Number(String(sizes[0]).split('x')[1].replace(/\D+$/, '')) : Math.round(width * 1.5);
  const metaURL = meta ? coverMetaURLSync(base, { bookId }, key) : '';
  return `  <figure class="tile" data-name="${attr(label)}" data-expect="${attr(expect)}" data-meta="${attr(metaURL)}">
    <div class="frame" style="width:${width}px;height:${height}px">
      <canvas width="32" height="32"></canvas>
      <template>
        <picture>
${sources.map((s) => `          <source type="${attr(s.type)}" srcset="${attr(s.srcset)}" sizes="${attr(s.sizes)}">`).join('\n')}
          <img src="${attr(img.src)}" srcset="${attr(img.srcset)}" sizes="${attr(img.sizes)}" width="${width}" alt="${attr(label)}">
        </picture>
      </template>
    </div>
    <figcaption>${attr(label)}</figcaption>
  </figure>`;
}

function page(base, key, books, placeholder) {
  const tiles = [
    ...books.map((bookId) => ({ label: bookId, bookId, sizes: WIDTHS, expect: 'width', meta: true })),
    { label: `${books[0]} in a box (${BOX.expect})`, bookId: books[0], sizes: BOX.sizes, expect: BOX.expect, meta: true },
    { label: `${placeholder} (placeholder)`, bookId: placeholder, sizes: WIDTHS, expect: 'placeholder', meta: false },
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>image-worker demo</title>
<link rel="icon" href="data:,">
<style>
  body { font: 14px system-ui, sans-serif; margin: 2em; }
  .grid { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
  .tile { margin: 0; }
  .frame { position: relative; overflow: hidden; background: #ddd; }
  .frame canvas, .frame img { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain; }
  .frame img { opacity: 0; transition: opacity .3s; }
  .frame img.loaded { opacity: 1; }
  pre#result { white-space: pre-wrap; font-size: 11px; color: #555; }
</style>
</head>
<body>
<h1>image-worker demo</h1>
<p>Covers served by <code>${attr(base)}</code>: AVIF where the browser takes it, otherwise WebP; the blurhash of each cover's <code>meta.json</code> (fetched cross-origin: <code>ALLOW_ORIGINS</code>) is painted first.</p>
<div class="grid">
${tiles.map((t) => tile(base, key, t)).join('\n')}
</div>
<pre id="result">pending</pre>
<script>
${pageScript}
</script>
</body>
</html>
`;
}

// pageScript runs in the browser: no imports, no signing.
const pageScript = String.raw`
'use strict';
const errors = [];
const origError = console.error;
console.error = (...a) => { errors.push('console.error: ' + a.join(' ')); origError.apply(console, a); };
window.addEventListener('error', (e) => {
  const t = e.target;
  errors.push(t && t !== window ? 'failed to load ' + (t.currentSrc || t.src || t.tagName) : 'error: ' + e.message);
}, true);
window.addEventListener('unhandledrejection', (e) => { errors.push('unhandled rejection: ' + e.reason); });

const B83 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~';
const d83 = (s) => { let v = 0; for (const c of s) { const i = B83.indexOf(c); if (i < 0) throw new Error('blurhash: bad character'); v = v * 83 + i; } return v; };
const toLinear = (v) => { const x = v / 255; return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); };
const toSRGB = (v) => { const x = Math.max(0, Math.min(1, v)); return Math.round((x <= 0.0031308 ? x * 12.92 : 1.055 * Math.pow(x, 1 / 2.4) - 0.055) * 255); };
const signPow = (v, e) => Math.sign(v) * Math.pow(Math.abs(v), e);

// decodeBlurHash returns w*h RGBA pixels (the reference algorithm, blurha.sh).
function decodeBlurHash(hash, w, h) {
  const n = d83(hash[0]), ny = Math.floor(n / 9) + 1, nx = (n % 9) + 1;
  if (hash.length !== 4 + 2 * nx * ny) throw new Error('blurhash: length ' + hash.length + ', want ' + (4 + 2 * nx * ny));
  const max = (d83(hash[1]) + 1) / 166;
  const dc = d83(hash.substring(2, 6));
  const colors = [[toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]];
  for (let i = 1; i < nx * ny; i++) {
    const v = d83(hash.substring(4 + i * 2, 6 + i * 2));
    colors.push([Math.floor(v / 361), Math.floor(v / 19) % 19, v % 19].map((q) => signPow((q - 9) / 9, 2) * max));
  }
  const px = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r = 0, g = 0, b = 0;
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const basis = Math.cos(Math.PI * x * i / w) * Math.cos(Math.PI * y * j / h);
          const c = colors[i + j * nx];
          r += c[0] * basis; g += c[1] * basis; b += c[2] * basis;
        }
      }
      const o = 4 * (x + y * w);
      px[o] = toSRGB(r); px[o + 1] = toSRGB(g); px[o + 2] = toSRGB(b); px[o + 3] = 255;
    }
  }
  return px;
}

async function runTile(fig) {
  const out = { name: fig.dataset.name, expect: fig.dataset.expect, painted: false, paintedBeforeLoad: false };
  const canvas = fig.querySelector('canvas');
  if (fig.dataset.meta) {
    const res = await fetch(fig.dataset.meta, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(out.name + ': meta.json answered ' + res.status);
    const meta = await res.json();
    out.metaWidth = meta.width; out.metaHeight = meta.height;
    const ctx = canvas.getContext('2d');
    ctx.putImageData(new ImageData(decodeBlurHash(meta.blurhash, canvas.width, canvas.height), canvas.width, canvas.height), 0, 0);
    out.painted = ctx.getImageData(16, 16, 1, 1).data[3] === 255;
  }
  const paintedAt = performance.now();
  const tpl = fig.querySelector('template');
  tpl.replaceWith(tpl.content.cloneNode(true));
  const img = fig.querySelector('img');
  out.offered = [...fig.querySelectorAll('source')].map((s) => s.type);
  const loadedAt = await new Promise((resolve) => {
    img.addEventListener('load', () => resolve(performance.now()), { once: true });
    img.addEventListener('error', () => resolve(performance.now()), { once: true });
  });
  if (img.complete && img.naturalWidth > 0) {
    await img.decode().catch((e) => errors.push(out.name + ': decode: ' + e));
    img.classList.add('loaded');
  }
  out.paintedBeforeLoad = out.painted && paintedAt < loadedAt;
  out.currentSrc = img.currentSrc;
  out.naturalWidth = img.naturalWidth;
  out.naturalHeight = img.naturalHeight;
  return out;
}

Promise.all([...document.querySelectorAll('figure.tile')].map((fig) => runTile(fig).catch((e) => {
  errors.push(String(e));
  return { name: fig.dataset.name, failed: String(e) };
}))).then((tiles) => {
  document.getElementById('result').textContent = JSON.stringify({ done: true, tiles, errors }, null, 1);
});
`;

// serve answers GET / (and /demo.html) with the page, on loopback, for
// `make run`: the page's origin is then http://HOST:PORT, which run-dev.sh
// lists in ALLOW_ORIGINS.
function serve(addr, file) {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if ((req.method !== 'GET' && req.method !== 'HEAD') || (path !== '/' && path !== '/demo.html')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : readFileSync(file));
  }).listen(port, host);
}

main();

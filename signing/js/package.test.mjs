// Tests of the package as published: what `npm pack` puts in the tarball,
// the exports map, and what each build imports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const pkg = JSON.parse(await readFile(new URL('./package.json', import.meta.url), 'utf8'));

// Exactly what the tarball holds: the two builds and the modules they
// import, the types, README, LICENSE and package.json; no tests.
const PACKED = ['LICENSE', 'README.md', 'core.mjs', 'index.d.ts', 'markup.mjs', 'meta.mjs', 'node.mjs', 'package.json', 'web.mjs'];

test('npm pack --dry-run lists exactly the intended files', async () => {
  // Offline, without scripts, the update check or the user's npm cache.
  const cache = await mkdtemp(join(tmpdir(), 'cover-url-signer-npm-'));
  try {
    const stdout = await new Promise((resolve, reject) => {
      execFile('npm', ['pack', '--dry-run', '--json', '--offline', '--ignore-scripts', '--cache', cache],
        { cwd: dir, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } },
        (err, out, stderr) => (err ? reject(new Error(`npm pack --dry-run (npm must be installed: make deps-test installs Debian's npm): ${err.message}\n${stderr}`)) : resolve(out)));
    });
    const [report] = JSON.parse(stdout);
    assert.equal(report.name, '@bookcovers/cover-url-signer');
    assert.equal(report.version, pkg.version);
    assert.deepEqual(report.files.map((f) => f.path).sort(), PACKED);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

// resolveExport follows package.json's exports for "." with a set of
// conditions, as Node and bundlers do: the first key, in object order, that
// is "default" or a condition in the set.
function resolveExport(conditions) {
  let target = pkg.exports['.'];
  while (typeof target === 'object') {
    const key = Object.keys(target).find((k) => k === 'default' || conditions.includes(k));
    target = target[key];
  }
  return target;
}

test('exports: node gets node.mjs, browsers and edge runtimes web.mjs, TypeScript index.d.ts', () => {
  const cases = [
    { name: 'Node.js', conditions: ['node', 'import'], want: './node.mjs' },
    { name: 'Next.js server bundle', conditions: ['react-server', 'node', 'import', 'module'], want: './node.mjs' },
    { name: 'browser bundle', conditions: ['browser', 'import', 'module'], want: './web.mjs' },
    { name: 'edge runtime', conditions: ['edge-light', 'worker', 'browser', 'import'], want: './web.mjs' },
    { name: 'Deno', conditions: ['deno', 'import'], want: './web.mjs' },
    { name: 'TypeScript', conditions: ['types', 'node', 'import'], want: './index.d.ts' },
  ];
  for (const c of cases) {
    assert.equal(resolveExport(c.conditions), c.want, c.name);
  }
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.types, './index.d.ts');
  for (const file of [pkg.main, pkg.types, ...Object.values(pkg.exports['.'])]) {
    assert.ok(pkg.files.includes(file.replace(/^\.\//, '')), `${file} is named by package.json but not in its files`);
  }
});

test('importing the package by name on Node gives the build with sync signing', async () => {
  const byName = await import('@bookcovers/cover-url-signer');
  assert.equal(byName, await import('./node.mjs'));
  assert.equal(typeof byName.signCoverPathSync({ bookId: 'B1', size: 320, format: 'webp' }, '00'.repeat(32)), 'string');
});

// importsOf lists a module's static import and export-from specifiers.
async function importsOf(file) {
  const src = await readFile(join(dir, file), 'utf8');
  return [...src.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)';/gms)].map((m) => m[1]);
}

test('every module a build imports is packed; the Web Crypto build imports nothing of Node', async () => {
  const seen = new Set();
  const walk = async (file, web) => {
    if (seen.has(file + web)) {
      return;
    }
    seen.add(file + web);
    for (const spec of await importsOf(file)) {
      if (spec.startsWith('./')) {
        const dep = spec.slice(2);
        assert.ok(pkg.files.includes(dep), `${file} imports ${spec}, which package.json's files leaves out`);
        await walk(dep, web);
      } else {
        assert.ok(!web && spec.startsWith('node:'), `${file} imports ${spec}: ${web ? 'the Web Crypto build must not import it statically' : 'not a Node built-in'}`);
      }
    }
  };
  await walk('web.mjs', true);
  await walk('node.mjs', false);
  assert.ok(seen.has('markup.mjstrue') && seen.has('meta.mjstrue') && seen.has('core.mjstrue'), `walked ${[...seen]}`);
});

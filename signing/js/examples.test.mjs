// The plain HTML example of the repository README's frontend section, run as
// it is written (importing the package by name, with COVER_SIGNING_KEY set to
// the vectors' key): it must print exactly the HTML the README shows. The
// Python example is checked against the same HTML by test_cover_signer.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { README_KEY } from './testkit.mjs';

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');

// frontendBlock returns the first ```lang block of the README's frontend section.
function frontendBlock(lang) {
  const start = readme.indexOf('\n## For frontends');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section);
  assert.ok(start >= 0 && m, `no \`\`\`${lang} block in README.md's "For frontends" section`);
  return m[1];
}

test('README: the plain HTML example prints the HTML shown', async () => {
  const code = frontendBlock('js') + "\nconsole.log(coverHTML('B123', '3f9a1c2b7d4e', 'Cover'));\n";
  // Evaluated in this folder, so that the package's own name resolves
  // (self-reference through package.json's exports).
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', code],
      { cwd: fileURLToPath(new URL('.', import.meta.url)), env: { ...process.env, COVER_SIGNING_KEY: README_KEY } },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  assert.equal(out, frontendBlock('html'));
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp } from './infra/build-app.js';
import { contextWith } from './test/infra/helpers.js';

const over = JSON.parse(process.argv[2] ?? '{}');
const { app } = buildApp({ context: contextWith(over), outdir: mkdtempSync(path.join(tmpdir(), 'nagtmp-')) });
try {
  app.synth();
  console.log('nag clean');
} catch (e) {
  console.log(String((e as Error).message).slice(0, 4000));
}

// Runs ../shared/contract/check-schema.mjs on the committed schema. Differences the open issues
// still have to add are listed in .ci/contract-pending.txt; anything else fails CI, and so does a
// pending line that no longer differs (so the list only ever shrinks, and stays exact).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const checker = ['../shared/contract/check-schema.mjs', '../../shared/contract/check-schema.mjs'].find(existsSync);
if (!checker) {
  console.error('contract checker not found beside the checkout (../shared/contract)');
  process.exit(1);
}
let output;
try {
  output = execFileSync('node', [checker, '--sdl', 'schema.graphql'], { encoding: 'utf8' });
} catch (err) {
  output = err.stdout ?? '';
}
const lines = output.split('\n').filter((l) => l && !l.startsWith('contract:'));
const pending = new Set(readFileSync('.ci/contract-pending.txt', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
const unexpected = lines.filter((l) => !pending.has(l));
const done = [...pending].filter((l) => !lines.includes(l));
for (const l of unexpected) console.log(`contract regression: ${l}`);
for (const l of done) console.log(`now satisfied, remove from .ci/contract-pending.txt: ${l}`);
console.log(`contract: ${lines.length} differences, all pending in open issues: ${unexpected.length === 0}`);
process.exit(unexpected.length === 0 && done.length === 0 ? 0 : 1);

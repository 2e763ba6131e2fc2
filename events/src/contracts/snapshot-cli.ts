/**
 * Writes the JSON Schema snapshot of every event version into `events/schemas/`.
 *
 *   node --conditions=@shop/source --import tsx events/src/contracts/snapshot-cli.ts            write missing snapshots
 *   node --conditions=@shop/source --import tsx events/src/contracts/snapshot-cli.ts --check    only compare (exit 1 on any difference)
 *   node --conditions=@shop/source --import tsx events/src/contracts/snapshot-cli.ts --force    also overwrite changed ones (only for a
 *                                                                     version that was never published)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { SCHEMAS_DIR, compareSnapshots, expectedSnapshots } from './schema-snapshots.js';

const args = new Set(process.argv.slice(2));
const check = args.has('--check');
const force = args.has('--force');

const diff = await compareSnapshots();
const expected = expectedSnapshots();
let failed = false;

for (const file of diff.orphaned) {
  console.error(`orphaned snapshot ${file}: its version is gone from the registry; published versions must stay parseable`);
  failed = true;
}
for (const file of diff.changed) {
  if (force && !check) continue;
  console.error(`${file} differs from its schema: a breaking change needs a new version and an upcaster (--force only for an unpublished version)`);
  failed = true;
}
if (check) {
  for (const file of diff.missing) console.error(`missing snapshot ${file}: run without --check to write it`);
  failed ||= diff.missing.length > 0;
} else {
  await mkdir(SCHEMAS_DIR, { recursive: true });
  const toWrite = force ? [...diff.missing, ...diff.changed] : diff.missing;
  for (const file of toWrite) {
    await writeFile(`${SCHEMAS_DIR}/${file}`, expected.get(file)!);
    console.log(`wrote ${file}`);
  }
}
if (!failed) console.log(`${expected.size} event schema snapshots up to date in ${SCHEMAS_DIR}`);
process.exitCode = failed ? 1 : 0;

/**
 * `npm run compose` writes gateway/supergraph.graphql; `npm run compose -- --check` only verifies
 * that it composes and that the committed file is up to date (non-zero exit otherwise).
 */
import { writeFile } from 'node:fs/promises';
import { checkSupergraph, composeSupergraph, DEFAULT_SUPERGRAPH_PATH } from './compose.js';

const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const path = outIndex >= 0 && args[outIndex + 1] ? args[outIndex + 1]! : DEFAULT_SUPERGRAPH_PATH;

if (args.includes('--check')) {
  const result = await checkSupergraph(path);
  if (!result.ok) {
    console.error(result.message);
    process.exit(1);
  }
  console.log(`${path} is up to date`);
} else {
  try {
    const sdl = await composeSupergraph();
    await writeFile(path, sdl);
    console.log(`wrote ${path}`);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}

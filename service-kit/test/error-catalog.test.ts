import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { describe, expect, it } from 'vitest';
import { errorCatalog, isErrorCode } from '../src/errors.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Every package whose code can put an error in front of a client. */
const SOURCE_DIRS = ['gateway/src', 'service-kit/src', 'subgraphs'];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'test') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

describe('the error catalog', () => {
  const files = SOURCE_DIRS.flatMap((d) => sourceFiles(join(ROOT, d)));

  it('covers every code the sources raise: only ErrorCode members, no string literals', () => {
    expect(files.length).toBeGreaterThan(20);
    const literals: string[] = [];
    const unknown: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      // `code: 'X'`, `code: "X"` in an error's extensions (Node's own `ERR_…` codes on plain Errors are not GraphQL codes).
      for (const m of text.matchAll(/\bcode:\s*['"`]([A-Z][A-Z0-9_]*)['"`]/g)) if (!m[1]!.startsWith('ERR_')) literals.push(`${relative(ROOT, file)}: ${m[1]}`);
      for (const m of text.matchAll(/\bErrorCode\.([A-Z][A-Z0-9_]*)/g)) if (!isErrorCode(m[1])) unknown.push(`${relative(ROOT, file)}: ${m[1]}`);
    }
    expect(literals).toEqual([]);
    expect(unknown).toEqual([]);
  });

  it("covers the codes the libraries on the request path raise (the subgraphs' Apollo Server, @apollo/gateway's name for code-less subgraph errors)", () => {
    const libraryCodes = [...Object.values(ApolloServerErrorCode), 'DOWNSTREAM_SERVICE_ERROR'];
    expect(libraryCodes.filter((code) => !isErrorCode(code))).toEqual([]);
  });

  it('is what docs/errors.md documents, row for row', () => {
    const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d+) \| (yes|no) \| (yes|no) \| (\w+) \| (.+) \|$/gm)].map((m) => ({
      code: m[1],
      httpStatus: Number(m[2]),
      retriable: m[3] === 'yes',
      public: m[4] === 'yes',
      origin: m[5],
      meaning: m[6],
    }));
    expect(rows).toEqual(Object.entries(errorCatalog).map(([code, info]) => ({ code, ...info })));
  });

  it('masks in production exactly the codes that are not public', () => {
    const masked = Object.entries(errorCatalog).filter(([, info]) => !info.public).map(([code]) => code);
    expect(masked.sort()).toEqual(['DOWNSTREAM_SERVICE_ERROR', 'INTERNAL_SERVER_ERROR']);
  });
});

// docs/architecture.md names each step of its walks as `file:function`; a rename or a move must
// not leave it pointing at nothing. Every `path.ts` it names exists (paths are relative to
// packages/, or to the repository for test/ and examples/; a shortened one is looked up under
// packages/), and every `path.ts:Name` (or `Class.method`, `Class.#private`) is declared there.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const doc = readFileSync(path.join(root, 'docs', 'architecture.md'), 'utf8');

function sourceFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((entry) => {
    const full = path.join(directory, entry);
    if (entry === 'node_modules' || entry === 'dist') return [];
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(ts|tsx)$/.test(entry) ? [full] : [];
  });
}
const packageFiles = sourceFiles(path.join(root, 'packages'));

/**
 * The files a reference may mean: a path under packages/ or the repository, or else any file
 * under packages/ whose path ends so (the doc shortens paths inside the package a walk is in).
 */
function candidates(file: string): string[] {
  const exact = [path.join(root, 'packages', file), path.join(root, file)].filter((candidate) => existsSync(candidate));
  if (exact.length > 0) return exact;
  return packageFiles.filter((candidate) => candidate.endsWith(`${path.sep}${file}`));
}

const escape = (name: string) => name.replace(/[$#]/g, (character) => `\\${character}`);
/** Whether `text` declares `name` (a function, class, type or constant) or, for a member, defines it. */
function declares(text: string, name: string, member: boolean): boolean {
  const word = escape(name);
  if (!member) return new RegExp(`(?:function\\*?|class|interface|type|const|let|enum)\\s+${word}\\b`).test(text);
  return new RegExp(`(?:^|[\\s.])${word}\\s*(?:[(<]|=|:\\s*\\()|(?:get|set|async)\\s+${word}\\b`, 'm').test(text);
}

const references = [...new Set([...doc.matchAll(/`([\w./-]+\.tsx?)(?::([\w#.]+))?`/g)].map((match) => match[0]))].map((reference) => {
  const [, file, name] = /`([\w./-]+\.tsx?)(?::([\w#.]+))?`/.exec(reference)!;
  return { reference, file: file!, name };
});

describe('docs/architecture.md', () => {
  it('names files and functions', () => {
    expect(references.length).toBeGreaterThan(40);
  });

  it.each(references)('$reference exists', ({ file, name }) => {
    const files = candidates(file);
    expect(files, `no file ${file}`).not.toEqual([]);
    if (!name) return;
    const [first, ...members] = name.split('.');
    const found = files.some((candidate) => {
      const text = readFileSync(candidate, 'utf8');
      return declares(text, first!, false) && members.every((member) => declares(text, member, true));
    });
    expect(found, `${name} is not declared in ${file}`).toBe(true);
  });
});

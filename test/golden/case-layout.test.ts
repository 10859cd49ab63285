import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteOrphans, listCases, orphans } from './case-layout.ts';

/** What golden:update deletes, on a throwaway cases folder. */
describe('golden case layout', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function tree(files: Record<string, string>): void {
    dir = mkdtempSync(path.join(tmpdir(), 'golden-layout-'));
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    }
  }

  it('finds cases by their input, with optional before/ and settings.json', () => {
    tree({ 'a/input/x.yaml': '', 'b/input/x.yaml': '', 'b/before/x.yaml': '', 'b/settings.json': '{}' });
    expect(listCases(dir).map((c) => [c.name, Boolean(c.before), Boolean(c.settingsFile)])).toEqual([
      ['a', false, false],
      ['b', true, true],
    ]);
  });

  it('lists outputs whose input is gone and deletes them', () => {
    tree({
      'kept/input/x.yaml': '',
      'kept/routes.json': '[]',
      'kept/README.md': '',
      'kept/expected.json': '{}',
      'gone/routes.json': '[]',
      'gone/status.json': '{}',
      'old.expected.json': '{}',
    });
    mkdirSync(path.join(dir, 'dangling'));
    symlinkSync('../nowhere', path.join(dir, 'dangling', 'input'));
    writeFileSync(path.join(dir, 'dangling', 'routes.json'), '[]');

    const found = orphans(dir).map((file) => path.relative(dir, file));
    expect(found).toEqual(['dangling', 'gone', 'kept/expected.json', 'old.expected.json']);
    expect(listCases(dir).map((c) => c.name)).toEqual(['kept']);

    deleteOrphans(orphans(dir));
    expect(readdirSync(dir)).toEqual(['kept']);
    expect(readdirSync(path.join(dir, 'kept')).sort()).toEqual(['README.md', 'input', 'routes.json']);
    expect(orphans(dir)).toEqual([]);
  });
});

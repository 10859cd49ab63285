import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYamlObjects } from '../../src/sources/yaml-file.ts';
import { readSimpleDocuments } from '../../src/util/yaml-simple.ts';
import { configMapYaml } from './changes.ts';

const examples = path.resolve(import.meta.dirname, '../../examples/basic');
const seenAt = (key: string) => `seen ${key}`;
// A tab in a comment is plain YAML, but the fast reader leaves any text with one to the full parser.
const FULL_PARSER_ONLY = '\n# a tab:\there\n';

describe('reading a manifest file: the fast reader and the full parser give the same objects', () => {
  const texts = [
    ...readdirSync(examples).filter((file) => file.endsWith('.yaml')).map((file) => readFileSync(path.join(examples, file), 'utf8')),
    configMapYaml('first', '1'),
  ];
  it.each(texts.map((text, i) => [i, text]))('text %i', (_i, text) => {
    expect(readSimpleDocuments(text)).toBeDefined();
    expect(readSimpleDocuments(text + FULL_PARSER_ONLY)).toBeUndefined();
    const fast = parseYamlObjects(text, 'f.yaml', seenAt);
    expect(fast.errors).toEqual([]);
    expect(fast.objects.configMaps.length + fast.objects.endpointSlices.length).toBeGreaterThan(0);
    expect(fast).toStrictEqual(parseYamlObjects(text + FULL_PARSER_ONLY, 'f.yaml', seenAt));
  });
});

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function validate(...files: string[]): Promise<{ code: number; lines: string[] }> {
  const out = new Capture();
  const err = new Capture();
  const code = await main(['validate', ...files], out, err);
  return { code, lines: `${out.text}${err.text}`.split('\n').filter((line) => line !== '') };
}

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'infermesh-validate-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A policy ConfigMap with the given name and policy.yaml text, as a YAML document (name JSON-quoted). */
function policyConfigMap(name: string, policy: string): string {
  const indented = policy.split('\n').map((line) => `    ${line}`).join('\n');
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${JSON.stringify(name)}\n  namespace: models\n  labels: { infermesh.io/policy: "true" }\ndata:\n  policy.yaml: |\n${indented}\n`;
}

async function file(name: string, text: string): Promise<string> {
  const where = path.join(scratch, name);
  await writeFile(where, text);
  return where;
}

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/u;
const BACKENDS = 'backends: [{ name: main, service: s, port: grpc }]';

describe('validate output is safe to print', () => {
  it('escapes control characters in field names and names, so no line is forged', async () => {
    const policy = `model: m1\n"tim\\u001b[31meout\\u0000": 3s\n${BACKENDS}`;
    const where = await file('control.yaml', policyConfigMap('bad\nmodels/forged key "x": fake error', policy));
    const { code, lines } = await validate(where);
    expect(code).toBe(1);
    expect(lines.join('\n')).not.toMatch(CONTROL);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('models/bad\\nmodels/forged key');
    expect(lines[0]).toContain('tim\\u001b[31meout\\u0000: unknown field');
    expect(lines[1]).toBe('invalid: 1 problem(s) in 1 policy ConfigMap(s)');
  });

  it('quotes a short excerpt of a long value, not the whole of it', async () => {
    const where = await file('long.yaml', policyConfigMap('long', `model: m2\nserver: ${'a'.repeat(100_000)}\n${BACKENDS}`));
    const { code, lines } = await validate(where);
    expect(code).toBe(1);
    const problem = lines.find((line) => line.includes('server:')) ?? '';
    expect(problem).toContain('more characters');
    expect(problem.length).toBeLessThan(400);
  });

  it('reports a megabyte-long unknown field by an excerpt of its name, without a suggestion search', async () => {
    // An explicit key (`? key`): YAML limits implicit keys to 1024 characters.
    const where = await file('huge-key.yaml', policyConfigMap('huge', `model: m3\n? ${'k'.repeat(1_000_000)}\n: 1\n${BACKENDS}`));
    const { code, lines } = await validate(where);
    expect(code).toBe(1);
    expect(lines[0]).toMatch(/models\/huge key "policy.yaml" \[doc 0\] k{60}\.\.\.\(999940 more characters\): unknown field; valid fields: /);
    expect(lines[0]?.length).toBeLessThan(400);
  });

  it('names the file of an alias bomb and still reports every other file', async () => {
    const aliases = Array.from({ length: 101 }, () => '*a').join(', ');
    const bomb = await file('bomb.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: bomb, namespace: models, labels: &a { x: y } }\ndata: { list: "[${aliases}]" }\nextra: [${aliases}]\n`);
    const good = await file('good.yaml', policyConfigMap('good', `model: m5\n${BACKENDS}`));
    const bad = await file('bad.yaml', policyConfigMap('bad', `model: m6\nbackends: []`));
    const { code, lines } = await validate(bomb, good, bad);
    expect(code).toBe(1);
    expect(lines.some((line) => /^(\S*\/)?bomb\.yaml#0: .*alias/i.test(line))).toBe(true);
    expect(lines.some((line) => line.startsWith('models/bad key "policy.yaml" [doc 0] backends:'))).toBe(true);
    expect(lines.at(-1)).toBe('invalid: 2 problem(s) in 2 policy ConfigMap(s)');
  });

  it('prints a YAML syntax error once', async () => {
    const where = await file('syntax.yaml', policyConfigMap('syntax', 'model: m4\nbackends: ['));
    const { code, lines } = await validate(where);
    expect(code).toBe(1);
    expect(lines.filter((line) => line.includes('YAML syntax error'))).toHaveLength(1);
    expect(lines.at(-1)).toBe('invalid: 1 problem(s) in 1 policy ConfigMap(s)');
  });
});

describe('a reader that goes away', () => {
  it('`render | head -1` ends quietly: no EPIPE stack trace, exit 0', async () => {
    const bin = path.resolve(import.meta.dirname, '../../bin/infermesh.js');
    // Enough models that the output is far larger than a pipe's buffer.
    const dir = await mkdtemp(path.join(scratch, 'many-'));
    const documents = Array.from({ length: 300 }, (_, i) => [
      policyConfigMap(`m${i}`, `model: m${i}\nbackends: [{ name: main, service: s${i}, port: grpc }]`),
      `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: s${i}-a, namespace: models, labels: { kubernetes.io/service-name: s${i} } }\n` +
        `addressType: IPv4\nports: [{ name: grpc, port: 8001 }]\nendpoints: [{ addresses: ["127.0.1.${i % 250}"] }]\n`,
    ]).flat();
    await writeFile(path.join(dir, 'many.yaml'), documents.join('---\n'));
    const child = spawn(process.execPath, [bin, 'render', '--config-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      // Like head -1: read the first chunk, then close the pipe while render is still writing.
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.stdout.destroy();
      const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
      expect(stderr).toBe('');
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

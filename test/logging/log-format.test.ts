/**
 * `serve --log-format pretty`: the same events as the JSON lines, one human line each, and a usage error
 * (exit 2) naming the flag or LOG_FORMAT for anything but json or pretty.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { prettyLine } from '../../src/logging/pretty.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const TIME = String.raw`\d\d:\d\d:\d\d\.\d{3}`;

function prettyLogger(level = 'info') {
  const out: string[] = [];
  return { out, logger: createLogger(level, { write: (text: string) => void out.push(text) }, 'pretty') };
}

describe('pretty log lines', () => {
  it('say time, level and message, then the event fields as key=value, one line per event', () => {
    const { out, logger } = prettyLogger();
    logger.info({ event: 'model-change', change: 'added', model: 'bert', configMap: 'models/bert-policy', key: 'policy.yaml', sequence: 1 }, 'model bert added');
    logger.warn({ event: 'nack', node: 'p-1.models', models: ['gpt'], sources: ['models/gpt-policy key "policy.yaml"'], error: 'bad\nthing' }, 'NACK: client rejected configuration');
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(new RegExp(`^${TIME} INFO  model bert added event=model-change change=added model=bert configMap=models/bert-policy key=policy.yaml sequence=1\\n$`));
    // Values that would break the line or its key=value reading are JSON: quotes, spaces, newlines.
    expect(out[1]).toMatch(new RegExp(`^${TIME} WARN  NACK: client rejected configuration event=nack node=p-1.models models=\\["gpt"\\] sources=\\["models/gpt-policy key \\\\"policy.yaml\\\\""\\] error="bad\\\\nthing"\\n$`));
    expect(out.join('')).not.toMatch(/"level"|"app"|"time"/);
  });

  it('write an error by its message, keep the level filter, and pass through what is not a JSON log line', () => {
    const { out, logger } = prettyLogger('warn');
    logger.info('not shown');
    logger.error({ err: new Error('disk gone') }, 'reconcile failed');
    expect(out).toEqual([expect.stringMatching(new RegExp(`^${TIME} ERROR reconcile failed err="disk gone"\\n$`))]);
    expect(prettyLine('plain text')).toBe('plain text\n');
  });
});

describe('serve --log-format', () => {
  const saved = process.env['LOG_FORMAT'];
  afterEach(() => {
    if (saved === undefined) delete process.env['LOG_FORMAT'];
    else process.env['LOG_FORMAT'] = saved;
  });

  async function serve(...argv: string[]) {
    const out = new Capture();
    const err = new Capture();
    const code = await main(['serve', '--config-dir', 'examples/basic', ...argv], out, err);
    return { code, out: out.text, err: err.text };
  }

  it('refuses a format it does not know with a usage error naming the flag (exit 2)', async () => {
    const { code, out, err } = await serve('--log-format', 'yaml');
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain('infermesh serve: --log-format must be one of json, pretty, not "yaml"');
    expect(err).toContain('--log-format FORMAT');
  });

  it('refuses a bad LOG_FORMAT naming the variable (exit 2)', async () => {
    process.env['LOG_FORMAT'] = 'colour';
    const { code, err } = await serve();
    expect(code).toBe(2);
    expect(err).toContain('LOG_FORMAT must be one of json, pretty, not "colour"');
  });

  it('writes pretty lines from a real serve process, and JSON when LOG_FORMAT=json is overridden by the flag', { timeout: 20_000 }, async () => {
    const repo = path.resolve(import.meta.dirname, '../..');
    const args = ['bin/infermesh.js', 'serve', '--config-dir', 'examples/basic', '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--no-probes', '--log-format', 'pretty'];
    const child = spawn(process.execPath, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_FORMAT: 'json' } });
    try {
      const lines: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "infermesh serving" line within 15 s:\n${lines.join('\n')}`)), 15_000);
        createInterface({ input: child.stdout }).on('line', (line) => {
          lines.push(line);
          if (line.includes('infermesh serving')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`serve exited (${code}):\n${lines.join('\n')}`)));
      });
      for (const line of lines) expect(line).toMatch(new RegExp(`^${TIME} (INFO |WARN |DEBUG|ERROR) \\S`));
      expect(lines).toContainEqual(expect.stringMatching(/ INFO  model resnet50 added event=model-change change=added model=resnet50 configMap=models\/resnet50-policy key=policy.yaml fingerprint=\w+ snapshot=\w+ sequence=1$/));
      expect(lines.at(-1)).toMatch(/ INFO  infermesh serving xds=127\.0\.0\.1:\d+ admin=127\.0\.0\.1:\d+ configDir=examples\/basic snapshot=\w+$/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { parseAllDocuments } from 'yaml';
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_ENVOY_IMAGE,
  DEFAULT_LIMITS,
  DEFAULT_PROXY_PORT,
  DEFAULT_REQUESTS,
  DEFAULT_XDS_ADDRESS,
  type InjectOptions,
  parseXdsAddress,
} from '../../src/inject/options.ts';
import { injectStream } from '../../src/inject/stream.ts';

export const bootstrapTemplate = readFileSync(path.resolve(import.meta.dirname, '../../envoy/bootstrap.yaml'), 'utf8');

export function testOptions(overrides: Partial<InjectOptions> = {}): InjectOptions {
  return {
    xdsAddress: parseXdsAddress(DEFAULT_XDS_ADDRESS),
    image: DEFAULT_ENVOY_IMAGE,
    proxyPort: DEFAULT_PROXY_PORT,
    concurrency: DEFAULT_CONCURRENCY,
    sidecarMode: 'native',
    requests: DEFAULT_REQUESTS,
    limits: DEFAULT_LIMITS,
    version: '0.1.0',
    bootstrapTemplate,
    ...overrides,
  };
}

export function inject(source: string, overrides: Partial<InjectOptions> = {}): string {
  return injectStream(source, testOptions(overrides)).output;
}

/** Every document of a stream as plain objects (YAML 1.1, as Kubernetes reads it). */
export function objects(text: string): Record<string, any>[] {
  return parseAllDocuments(text, { version: '1.1' })
    .map((doc) => doc.toJS() as Record<string, any> | null)
    .filter((object): object is Record<string, any> => object !== null);
}

export type Named = { name: string } & Record<string, any>;

export function named(items: Named[] | undefined, name: string): Named[] {
  return (items ?? []).filter((item) => item.name === name);
}

export class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export function stdinOf(text: string): NodeJS.ReadableStream {
  return Readable.from([Buffer.from(text)]);
}

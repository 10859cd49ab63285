import { describe, expect, it } from 'vitest';
import { backendWith, docWith, problems, validDoc } from './helpers.ts';

const backend = (name: string, extra: Record<string, unknown> = {}) => ({ name, service: 'resnet50-triton', port: 'grpc', ...extra });

describe('backends: fields', () => {
  it.each([
    ['name', { name: 'canary-2' }],
    ['name of digits', { name: '2' }],
    ['name of 63 characters', { name: 'a'.repeat(63) }],
    ['service', { service: 'resnet50-triton-v2' }],
    ['port name', { port: 'http-metrics' }],
    ['port name of 15 characters', { port: 'a'.repeat(15) }],
    ['port number 1', { port: 1 }],
    ['port number 65535', { port: 65535 }],
    ['version', { version: '2' }],
    ['version with . : / -', { version: 'v2.1:gpu/a-b_c' }],
    ['weight 1', { weight: 1 }],
    ['weight 1000000', { weight: 1_000_000 }],
  ])('accepts %s', (_, patch) => {
    expect(problems(backendWith(patch))).toEqual([]);
  });

  it('reads a quoted port number as a number and keeps a port name a string', () => {
    expect(validDoc(backendWith({ port: '8080' })).backends[0]?.port).toBe(8080);
    expect(validDoc(backendWith({ port: 8001 })).backends[0]?.port).toBe(8001);
    expect(validDoc(backendWith({ port: 'grpc' })).backends[0]?.port).toBe('grpc');
  });

  const portRule = 'must be a Service port name (1-15 lowercase letters, digits and single dashes, with a letter, e.g. grpc) or number from 1 to 65535';
  it.each([
    ['name in capitals', { name: 'Stable' }, 'backends[0].name: must be a DNS label (1-63 lowercase letters, digits or -, starting and ending with a letter or digit), got "Stable"'],
    ['name starting with -', { name: '-a' }, 'backends[0].name: must be a DNS label'],
    ['name ending with -', { name: 'a-' }, 'backends[0].name: must be a DNS label'],
    ['name with _', { name: 'a_b' }, 'got "a_b"'],
    ['name with |', { name: 'a|b' }, 'got "a|b"'],
    ['name of 64 characters', { name: 'a'.repeat(64) }, 'backends[0].name: must be a DNS label'],
    ['missing name', { name: undefined }, 'backends[0].name: required: must be a DNS label'],
    ['service starting with a digit', { service: '1svc' }, `backends[0].service: must be a Service name in the ConfigMap's namespace (1-63 lowercase letters, digits or -, starting with a letter, ending with a letter or digit), got "1svc"`],
    ['service with a namespace', { service: 'svc.ml' }, 'got "svc.ml"'],
    ['service in capitals', { service: 'Svc' }, 'backends[0].service: must be a Service name'],
    ['service of 64 characters', { service: 'a'.repeat(64) }, 'backends[0].service: must be a Service name'],
    ['missing service', { service: undefined }, 'backends[0].service: required: must be a Service name'],
    ['port 0', { port: 0 }, `backends[0].port: ${portRule}, got 0`],
    ['port 65536', { port: 65536 }, `backends[0].port: ${portRule}, got 65536`],
    ['port "99999"', { port: '99999' }, 'got "99999"'],
    ['port name of digits only', { port: '123456' }, 'got "123456"'],
    ['port 1.5', { port: 1.5 }, 'got 1.5'],
    ['port name with _', { port: 'grpc_port' }, 'got "grpc_port"'],
    ['port name with --', { port: 'a--b' }, 'got "a--b"'],
    ['port name starting with -', { port: '-grpc' }, 'got "-grpc"'],
    ['port name in capitals', { port: 'GRPC' }, 'got "GRPC"'],
    ['port name of 16 characters', { port: 'a'.repeat(16) }, `backends[0].port: ${portRule}`],
    ['missing port', { port: undefined }, `backends[0].port: required: ${portRule}`],
    ['numeric version', { version: 2 }, 'backends[0].version: must be a version (1-253 letters, digits or . _ : / -, starting with a letter or digit), got 2 (a number; quote it: "2")'],
    ['version with a space', { version: 'v 2' }, 'backends[0].version: must be a version'],
    ['negative weight', { weight: -3 }, 'backends[0].weight: must be an integer from 0 to 1000000, got -3'],
    ['fractional weight', { weight: 0.5 }, 'backends[0].weight: must be an integer from 0 to 1000000, got 0.5'],
    ['weight too large', { weight: 1_000_001 }, 'got 1000001'],
    ['quoted weight', { weight: '90' }, 'got "90" (a string; remove the quotes)'],
  ])('rejects %s', (_, patch, expected) => {
    const found = problems(backendWith(patch));
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(expected);
  });

  it.each([
    ['empty', [], 'backends: must list at least one backend (name, service, port)'],
    ['missing', undefined, 'backends: required: must be a list of backends'],
    ['a mapping', { name: 'a' }, 'backends: must be a list of backends, got a mapping'],
  ])('rejects backends that are %s', (_, backends, expected) => {
    expect(problems(docWith({ backends }))).toEqual([expected]);
  });
});

describe('backends: names, versions and weights together', () => {
  it('accepts weights on every backend, including a zero one', () => {
    const doc = validDoc(docWith({ backends: [backend('stable', { weight: 100 }), backend('dark', { weight: 0 })] }));
    expect(doc.backends.map((b) => b.weight)).toEqual([100, 0]);
  });

  it('accepts weights on no backend (an equal split)', () => {
    expect(problems(docWith({ backends: [backend('a'), backend('b')] }))).toEqual([]);
  });

  it('requires a weight on every backend once one sets it', () => {
    expect(problems(docWith({ backends: [backend('a'), backend('b', { weight: 10 }), backend('c')] }))).toEqual([
      'backends[0].weight: required because backends[1] sets a weight: set weight on every backend, or on none for an equal split',
      'backends[2].weight: required because backends[1] sets a weight: set weight on every backend, or on none for an equal split',
    ]);
  });

  it('rejects weights summing to 0', () => {
    expect(problems(docWith({ backends: [backend('a', { weight: 0 }), backend('b', { weight: 0 })] }))).toEqual([
      'backends: weights sum to 0: give at least one backend a weight > 0 (a weight-0 backend is reachable only by version)',
    ]);
  });

  it('rejects duplicate backend names', () => {
    expect(problems(docWith({ backends: [backend('a'), backend('b'), backend('a')] }))).toEqual([
      'backends[2].name: "a" is already the name of backends[0]; backend names must be unique',
    ]);
  });

  it('rejects duplicate versions but allows several backends without one', () => {
    const backends = [backend('a', { version: '1' }), backend('b'), backend('c'), backend('d', { version: '1' })];
    expect(problems(docWith({ backends }))).toEqual([
      'backends[3].version: "1" is already the version of backends[0]; a version must select one backend',
    ]);
  });

  it('allows the same Service in two backends', () => {
    expect(problems(docWith({ backends: [backend('a', { version: '1' }), backend('b', { version: '2' })] }))).toEqual([]);
  });
});

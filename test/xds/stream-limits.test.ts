import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { xdsLimitsFromFlags } from '../../src/cli/xds-limit-flags.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { deltaRequestDecoder } from '../../src/xds/delta-messages.ts';
import { discoveryRequestDecoder } from '../../src/xds/messages.ts';
import { StreamLimits, TokenBucket, boundNode, isRefusal, type StreamTicket } from '../../src/xds/stream-limits.ts';
import { StreamLogs } from '../../src/xds/stream-log.ts';

describe('TokenBucket', () => {
  it('allows the burst at once, then the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(100, 50, () => now);
    expect(Array.from({ length: 100 }, () => bucket.take()).every(Boolean)).toBe(true);
    expect(bucket.take()).toBe(false);
    now = 1_000;
    expect(Array.from({ length: 60 }, () => bucket.take()).filter(Boolean)).toHaveLength(50);
    now = 100_000;
    expect(Array.from({ length: 200 }, () => bucket.take()).filter(Boolean)).toHaveLength(100);
  });
});

describe('StreamLimits', () => {
  const ticket = (value: ReturnType<StreamLimits['admit']>): StreamTicket => {
    if (isRefusal(value)) throw new Error(value.error.details);
    return value;
  };

  it('counts streams per replica and per connection, and frees a place once', () => {
    const limits = new StreamLimits({ maxStreams: 3, maxStreamsPerConnection: 2 });
    const a1 = ticket(limits.admit('a'));
    ticket(limits.admit('a'));
    const perConnection = limits.admit('a');
    expect(isRefusal(perConnection) && perConnection.reason).toBe('max_streams_per_connection');
    ticket(limits.admit('b'));
    const replica = limits.admit('c');
    expect(isRefusal(replica) && replica.error.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(isRefusal(replica) && replica.error.details).toContain('--max-xds-streams');
    a1.release();
    a1.release();
    expect(limits.open).toBe(2);
    ticket(limits.admit('a'));
    expect(isRefusal(limits.admit('c'))).toBe(true);
  });

  it('ends a stream over the request rate once, and one with an oversized node with INVALID_ARGUMENT', () => {
    let now = 0;
    const limits = new StreamLimits({ requestBurst: 3, requestsPerSecond: 1 }, () => now);
    const stream = ticket(limits.admit('a'));
    expect([1, 2, 3].map(() => stream.check({}))).toEqual([undefined, undefined, undefined]);
    now = 999;
    const refused = stream.check({});
    expect(refused?.reason).toBe('request_rate');
    expect(refused?.error.details).toContain('--xds-request-rate');
    expect(stream.ended).toBe(true);
    expect(stream.check({})).toBeUndefined();
    const other = ticket(limits.admit('b'));
    const node = other.check({ oversizedNode: 20_000 });
    expect(node?.error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(node?.error.details).toContain('node is 20000 bytes encoded');
  });
});

describe('boundNode', () => {
  const root = loadEnvoyProtos();
  const encode = (typeName: string, value: Record<string, unknown>) => {
    const type = root.lookupType(typeName);
    return Buffer.from(type.encode(type.fromObject(value)).finish());
  };

  it('decodes a node within the bound as before, and drops one over it, saying its size', () => {
    const decode = boundNode(discoveryRequestDecoder(root), 2, 1024);
    const small = decode(encode('envoy.service.discovery.v3.DiscoveryRequest', { node: { id: 'pod.ns', cluster: 'ns' }, type_url: 't', resource_names: ['a'] }));
    expect(small.node?.id).toBe('pod.ns');
    expect('oversizedNode' in small).toBe(false);
    const big = decode(encode('envoy.service.discovery.v3.DiscoveryRequest', { version_info: 'v1', node: { id: 'x'.repeat(5000) }, type_url: 't', resource_names: ['a', 'b'] }));
    expect(big.node).toBeUndefined();
    expect('oversizedNode' in big && big.oversizedNode).toBeGreaterThan(5000);
    expect([big.versionInfo, big.typeUrl, big.resourceNames]).toEqual(['v1', 't', ['a', 'b']]);
  });

  it('finds the node of a delta request (field 1) and leaves malformed bytes to the decoder', () => {
    const decode = boundNode(deltaRequestDecoder(root), 1, 1024);
    const big = decode(encode('envoy.service.discovery.v3.DeltaDiscoveryRequest', { node: { id: 'y'.repeat(2000) }, type_url: 't', resource_names_subscribe: ['*'] }));
    expect(big.node).toBeUndefined();
    expect(big.resourceNamesSubscribe).toEqual(['*']);
    expect(() => decode(Buffer.from([0x0a, 0xff]))).toThrow();
  });
});

describe('StreamLogs', () => {
  it('samples per stream and across streams, and counts what a stream left out when it closes', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger('debug', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const logs = new StreamLogs({ intervalMs: 10_000, globalPerInterval: 2, lifecyclePerInterval: 3, now: () => 0 });
    const nack = { nonce: '1', version: 'v', sequence: 1, keptVersion: '', code: 3, message: 'e'.repeat(5000), at: new Date(0) };
    const streams = [1, 2, 3, 4].map((i) => logs.forStream(logger.child({ stream: String(i) })));
    for (const stream of streams) for (let i = 0; i < 10; i += 1) stream.nack('cluster', undefined, nack);
    const nackLines = lines.filter((line) => line['msg'] === 'NACK: client rejected configuration');
    expect(nackLines).toHaveLength(2);
    expect(String(nackLines[0]!['error']).length).toBeLessThan(1100);
    for (const stream of streams) stream.closed({ id: 'n'.repeat(10_000), cluster: '', userAgentName: '', userAgentVersion: '', metadata: {}, raw: {} });
    const closed = lines.filter((line) => line['msg'] === 'xDS stream closed');
    expect(closed).toHaveLength(3);
    expect(closed[0]!['unloggedEvents']).toEqual({ 'nack:cluster': 9 });
    expect(String(closed[0]!['node']).length).toBeLessThan(300);
  });
});

describe('serve flags for the limits', () => {
  it('sets what is given and refuses what is not a positive whole number', () => {
    expect(xdsLimitsFromFlags({ 'max-xds-streams': '500', 'xds-request-rate': '10' })).toEqual({ maxStreams: 500, requestsPerSecond: 10 });
    expect(() => xdsLimitsFromFlags({ 'max-xds-node-bytes': '16k' })).toThrow('--max-xds-node-bytes "16k" must be a whole number');
    expect(() => xdsLimitsFromFlags({ 'xds-request-burst': '0' })).toThrow('at least 1');
  });
});

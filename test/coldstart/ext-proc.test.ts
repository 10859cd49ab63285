/**
 * The ext_proc messages the control plane exchanges with sidecars for cold-start holds: header values read
 * from raw_value or value, and answers that encode as ProcessingResponse (checked by a round trip through
 * Envoy's own protos, as a sidecar decodes them).
 */
import { describe, expect, it } from 'vitest';
import { continueResponse, nodeId, notReadyResponse, requestHeaders } from '../../src/coldstart/ext-proc.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';

const root = loadEnvoyProtos();
const responseType = root.lookupType('envoy.service.ext_proc.v3.ProcessingResponse');
const requestType = root.lookupType('envoy.service.ext_proc.v3.ProcessingRequest');

function roundTrip(message: Record<string, unknown>): Record<string, unknown> {
  const bytes = responseType.encode(responseType.fromObject(message)).finish();
  return responseType.toObject(responseType.decode(bytes), { enums: String, bytes: String, defaults: false }) as Record<string, unknown>;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('ext_proc messages', () => {
  it('reads request headers from raw_value (Envoy 1.38+) or value, by lowercase name', () => {
    const bytes = requestType.encode(requestType.fromObject({
      request_headers: { headers: { headers: [{ key: 'x-model', raw_value: Buffer.from('chat') }, { key: 'Content-Type', value: 'application/grpc' }] } },
    })).finish();
    const decoded = requestType.toObject(requestType.decode(bytes), { enums: String, arrays: true });
    expect([...requestHeaders(decoded)]).toEqual([['x-model', 'chat'], ['content-type', 'application/grpc']]);
  });

  it('reads the sidecar\'s node id from the xds.node.id attribute, if sent', () => {
    const bytes = requestType.encode(requestType.fromObject({
      request_headers: {},
      attributes: { 'envoy.filters.http.ext_proc': { fields: { 'xds.node.id': { stringValue: 'app-1.ml' } } } },
    })).finish();
    expect(nodeId(requestType.toObject(requestType.decode(bytes), { enums: String, arrays: true }))).toBe('app-1.ml');
    expect(nodeId({ request_headers: {} })).toBeUndefined();
  });

  it('lets a released request go on, saying how long it was held and asking Envoy to pick the route again', () => {
    expect(roundTrip(continueResponse(1234.4))).toEqual({
      request_headers: {
        response: {
          header_mutation: { set_headers: [{ header: { key: 'x-infermesh-held-ms', raw_value: b64('1234') }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }] },
          clear_route_cache: true,
        },
      },
    });
  });

  it('answers a REST caller 503 with a JSON body and a header naming the model', () => {
    const answer = roundTrip(notReadyResponse('chat', { outcome: 'timed_out', model: 'chat', holdForMs: 30_000, waitedMs: 30_000 }, false));
    expect(answer).toEqual({
      immediate_response: {
        status: { code: 'ServiceUnavailable' },
        headers: {
          set_headers: [
            { header: { key: 'x-infermesh-cold-start', raw_value: b64('chat') }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
            { header: { key: 'content-type', raw_value: b64('application/json') }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
          ],
        },
        body: b64(JSON.stringify({ error: 'model_not_ready', model: 'chat', message: 'no ready pod for model chat within 30s' })),
        grpc_status: { status: 14 },
        details: 'cold_start_timeout',
      },
    });
  });

  it('answers a gRPC caller UNAVAILABLE with the message as grpc-message; an overflow says so', () => {
    const answer = roundTrip(notReadyResponse('chat', { outcome: 'overflow', model: 'chat', holdForMs: 30_000, waitedMs: 0 }, true));
    expect(answer).toMatchObject({
      immediate_response: {
        headers: { set_headers: [{ header: { key: 'x-infermesh-cold-start', raw_value: b64('chat') } }] },
        body: b64('no ready pod for model chat, and this control plane holds too many requests already: retry later'),
        grpc_status: { status: 14 },
        details: 'cold_start_overflow',
      },
    });
  });
});

/**
 * envoy.service.ext_proc.v3.ExternalProcessor on the xDS port: sidecars send the request headers of a
 * coldStart model's requests here while it has no ready pod (src/envoy/cold-start.ts), one stream per
 * request, and this answers when the request may go (ColdStartHolds), or with a 503 after holdFor.
 */
import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import type { Logger } from 'pino';
import { COLD_START_HEADER, HELD_HEADER, HOLD_ANSWER_SLACK_MS, HOLD_VERSION_METADATA } from '../envoy/cold-start.ts';
import { durationMessage, formatDuration } from '../util/duration.ts';
import type { ColdStartHolds, HoldResult } from './holds.ts';

const SERVICE = '/envoy.service.ext_proc.v3.ExternalProcessor';
const GRPC_UNAVAILABLE = 14;

interface HeaderValue {
  key?: string;
  value?: string;
  raw_value?: Uint8Array;
}

export interface ProcessingRequest {
  request_headers?: { headers?: { headers?: HeaderValue[] } };
  /** Envoy attributes asked for by the filter's request_attributes, under the filter's name. */
  attributes?: Record<string, { fields?: Record<string, { stringValue?: string }> }>;
}

/** The sidecar's node id (the xds.node.id attribute the filter asks for), if sent. */
export function nodeId(request: ProcessingRequest): string | undefined {
  return request.attributes?.['envoy.filters.http.ext_proc']?.fields?.['xds.node.id']?.stringValue || undefined;
}

/** The request's headers by lowercase name. Envoy sends values in raw_value (value on older runtime guards). */
export function requestHeaders(request: ProcessingRequest): Map<string, string> {
  const headers = new Map<string, string>();
  for (const header of request.request_headers?.headers?.headers ?? []) {
    if (!header.key) continue;
    const value = header.raw_value && header.raw_value.length > 0 ? Buffer.from(header.raw_value).toString('utf8') : (header.value ?? '');
    headers.set(header.key.toLowerCase(), value);
  }
  return headers;
}

const header = (key: string, value: string) => ({ header: { key, raw_value: Buffer.from(value) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });

/**
 * The answer to a request that may go: CONTINUE, saying how long it was held (a header, which is also what
 * lets clear_route_cache act: Envoy picks the route again, from the table without the hold, whose split
 * names only backends that now have a ready pod).
 */
export function continueResponse(waitedMs: number): Record<string, unknown> {
  return { request_headers: { response: { header_mutation: { set_headers: [header(HELD_HEADER, String(Math.round(waitedMs)))] }, clear_route_cache: true } } };
}

/** The answer to a request whose model found no ready pod within holdFor (or too many were held): 503 / UNAVAILABLE. */
export function notReadyResponse(model: string, result: HoldResult, grpcCaller: boolean): Record<string, unknown> {
  const message = result.outcome === 'overflow'
    ? `no ready pod for model ${model}, and this control plane holds too many requests already: retry later`
    : `no ready pod for model ${model} within ${formatDuration(result.holdForMs ?? result.waitedMs)}`;
  const body = grpcCaller ? message : JSON.stringify({ error: 'model_not_ready', model, message });
  return {
    immediate_response: {
      status: { code: 'ServiceUnavailable' },
      headers: { set_headers: [header(COLD_START_HEADER, model), ...(grpcCaller ? [] : [header('content-type', 'application/json')])] },
      body: Buffer.from(body),
      grpc_status: { status: GRPC_UNAVAILABLE },
      details: result.outcome === 'overflow' ? 'cold_start_overflow' : 'cold_start_timeout',
    },
  };
}

export interface ExtProcOptions {
  root: protobuf.Root;
  holds: ColdStartHolds;
  modelHeader: string;
  versionHeader: string;
  logger: Logger;
}

/** The service definition and handlers, for XdsServer to add to its gRPC server. */
export function extProcService(options: ExtProcOptions): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
  const requestType = options.root.lookupType('envoy.service.ext_proc.v3.ProcessingRequest');
  const responseType = options.root.lookupType('envoy.service.ext_proc.v3.ProcessingResponse');
  const definition: grpc.ServiceDefinition = {
    Process: {
      path: `${SERVICE}/Process`,
      requestStream: true,
      responseStream: true,
      requestSerialize: (value: Buffer) => value,
      requestDeserialize: (bytes: Buffer) => requestType.toObject(requestType.decode(bytes), { enums: String, arrays: true }) as ProcessingRequest,
      responseSerialize: (value: Record<string, unknown>) => Buffer.from(responseType.encode(responseType.fromObject(value)).finish()),
      responseDeserialize: (value: Buffer) => value,
    },
  };
  const Process = (call: grpc.ServerDuplexStream<ProcessingRequest, Record<string, unknown>>) => {
    let cancel: (() => void) | undefined;
    let ended = false;
    const stop = () => {
      ended = true;
      cancel?.();
    };
    call.on('cancelled', stop);
    call.on('error', stop);
    call.on('end', () => {
      stop();
      call.end();
    });
    call.on('data', (request: ProcessingRequest) => {
      if (!request.request_headers) return;
      const headers = requestHeaders(request);
      const name = headers.get(options.modelHeader) ?? '';
      // A version route that holds names its version (a path pin sets no header); the split's tables name none.
      const routeVersion = call.metadata.get(HOLD_VERSION_METADATA)[0];
      const version = typeof routeVersion === 'string' && routeVersion !== '' ? routeVersion : headers.get(options.versionHeader);
      const hold = options.holds.hold(name, version, nodeId(request));
      cancel = hold.cancel;
      if (hold.holdForMs !== undefined) call.write({ override_message_timeout: durationMessage(hold.holdForMs + HOLD_ANSWER_SLACK_MS) });
      void hold.result.then((result) => {
        if (ended || result.outcome === 'cancelled') return;
        const grpcCaller = (headers.get('content-type') ?? '').startsWith('application/grpc');
        const failed = result.outcome === 'timed_out' || result.outcome === 'overflow';
        if (result.outcome !== 'not_held') {
          const log = { model: result.model ?? name, outcome: result.outcome, waitedMs: result.waitedMs };
          if (failed) options.logger.warn(log, `cold start: request for ${log.model} ${result.outcome === 'overflow' ? 'refused, too many held' : 'failed, no ready pod in time'}`);
          else options.logger.debug(log, `cold start: held request for ${log.model} let go`);
        }
        call.write(failed ? notReadyResponse(result.model ?? name, result, grpcCaller) : continueResponse(result.waitedMs));
      });
    });
  };
  return { definition, implementation: { Process } };
}

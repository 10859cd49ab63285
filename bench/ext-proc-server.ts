/**
 * A minimal Envoy external processor (ext_proc) for bench/body-routing-ext-proc.ts only, in a process of its
 * own so its CPU time is its own: it does what the model-from-body Lua filter does, over gRPC. On request
 * headers: a request with the model header needs nothing more (its body is not sent: mode_override); otherwise
 * it waits for the buffered body, reads its "model" with JSON.parse and sets the header (clearing the route
 * cache). Prints `PORT <n>` once listening on 127.0.0.1; stops on SIGTERM.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
const deps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const definition = loadSync('envoy/service/ext_proc/v3/external_processor.proto', {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((dir) => path.join(deps, dir)),
});
const loaded = grpc.loadPackageDefinition(definition) as unknown as { envoy: { service: { ext_proc: { v3: { ExternalProcessor: grpc.ServiceClientConstructor } } } } };
const MODEL_HEADER = process.env['BENCH_MODEL_HEADER_NAME'] ?? 'x-model';

interface HeaderEntry { key: string }
interface ProcessingRequest {
  request_headers?: { headers?: { headers?: HeaderEntry[] }; end_of_stream?: boolean };
  request_body?: { body?: Buffer };
}

function process_(call: grpc.ServerDuplexStream<ProcessingRequest, unknown>): void {
  call.on('data', (request: ProcessingRequest) => {
    if (request.request_headers) {
      const named = (request.request_headers.headers?.headers ?? []).some((h) => h.key === MODEL_HEADER);
      call.write({ request_headers: { response: {} }, ...(named ? { mode_override: { request_body_mode: 'NONE' } } : {}) });
      return;
    }
    if (request.request_body) {
      let model: unknown;
      try {
        model = (JSON.parse(request.request_body.body?.toString('utf8') ?? '') as { model?: unknown }).model;
      } catch {
        model = undefined;
      }
      if (typeof model !== 'string') {
        call.write({ immediate_response: { status: { code: 'BadRequest' }, body: Buffer.from('{"error":"model_not_in_body"}') } });
        return;
      }
      call.write({
        request_body: {
          response: {
            header_mutation: { set_headers: [{ header: { key: MODEL_HEADER, raw_value: Buffer.from(model) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }] },
            clear_route_cache: true,
          },
        },
      });
    }
  });
  call.on('end', () => call.end());
  call.on('error', () => undefined);
}

const server = new grpc.Server();
server.addService(loaded.envoy.service.ext_proc.v3.ExternalProcessor.service, { Process: process_ });
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`PORT ${port}\n`);
});
process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));

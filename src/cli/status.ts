import { stringify } from 'yaml';
import { loadEnvoyProtos } from '../envoy/protos.ts';
import { DEFAULT_SETTINGS } from '../model/types.ts';
import { fetchClientStatus } from '../status/csds-client.ts';
import { TYPE_LABELS, modelOnProxy, summarizeProxy, type ProxyStatus } from '../status/summarize.ts';
import { formatTable } from '../util/table.ts';
import { UsageError, parseCommandArgs } from './usage.ts';

const HELP = `Usage: infermesh status [--server HOST:PORT] [--model M] [-o table|json|yaml]

Asks the control plane's CSDS (on its xDS port) what every connected proxy runs: per proxy and type the
version it ACKed, SYNCED / STALE (sent, not yet ACKed) / NACKED, and the last error. With --model, where that
model's latest policy is live, pending or refused. A sidecar that routes by scopes (SRDS) loads a model's
table and clusters on its first request for it: a model it has not called is not-used there. JSON and YAML
output are stable for scripts.

Options:
  --server HOST:PORT      the control plane's xDS address (default localhost:18000)
  --model M               one model: live / pending / refused / not-used on each proxy
  --grpc-target NAME      the gRPC target: tables are NAME and NAME/<model> (default ${DEFAULT_SETTINGS.grpcTarget})
  -o, --output FORMAT     table (default), json or yaml
`;

const short = (version: string) => (version.length > 10 ? version.slice(0, 8) : version) || '-';

function proxyTable(proxies: ProxyStatus[]): string {
  if (proxies.length === 0) return 'no proxies connected\n';
  const kinds = Object.keys(TYPE_LABELS) as (keyof typeof TYPE_LABELS)[];
  const rows = proxies.map((p) => [
    p.node,
    p.pod ? `${p.namespace}/${p.pod}` : '-',
    ...kinds.map((kind) => {
      const type = p.types[kind];
      return type ? `${short(type.version)}${type.status === 'SYNCED' ? '' : ` (${type.status})`}` : '-';
    }),
    p.status,
    p.lastError ? p.lastError.replace(/\s+/g, ' ').slice(0, 80) : '',
  ]);
  return formatTable(['NODE', 'POD', ...kinds.map((k) => TYPE_LABELS[k]), 'STATUS', 'LAST ERROR'], rows);
}

function render(value: unknown, format: string): string {
  return format === 'yaml' ? stringify(value) : `${JSON.stringify(value, null, 2)}\n`;
}

export async function statusCommand(argv: string[], out: NodeJS.WritableStream, _err: NodeJS.WritableStream): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      server: { type: 'string', default: 'localhost:18000' },
      model: { type: 'string' },
      'grpc-target': { type: 'string', default: DEFAULT_SETTINGS.grpcTarget },
      output: { type: 'string', short: 'o', default: 'table' },
    },
    HELP,
  );
  if (values.help) {
    out.write(HELP);
    return 0;
  }
  if (!['table', 'json', 'yaml'].includes(values.output)) throw new UsageError(`-o ${values.output}: choose table, json or yaml`, HELP);
  const clients = await fetchClientStatus(loadEnvoyProtos(), values.server);
  const model = values.model;
  if (model !== undefined) {
    const placements = clients.map((client) => modelOnProxy(client, model, values['grpc-target']));
    if (values.output !== 'table') {
      out.write(render({ model, proxies: placements }, values.output));
    } else {
      const counts = ['live', 'pending', 'refused', 'not-used'].map((state) => `${placements.filter((p) => p.state === state).length} ${state}`).join(', ');
      out.write(`model ${model}: ${counts}\n\n`);
      out.write(placements.length === 0 ? 'no proxies connected\n' : formatTable(['NODE', 'POD', 'STATE', 'ERROR'], placements.map((p) => [p.node, p.pod ?? '-', p.state, p.error?.replace(/\s+/g, ' ').slice(0, 100) ?? ''])));
    }
    return placements.some((p) => p.state === 'refused') ? 1 : 0;
  }
  const proxies = clients.map(summarizeProxy).sort((a, b) => (a.node < b.node ? -1 : 1));
  out.write(values.output === 'table' ? proxyTable(proxies) : render({ proxies }, values.output));
  return proxies.some((p) => p.status === 'NACKED') ? 1 : 0;
}

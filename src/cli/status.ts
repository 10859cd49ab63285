import { stringify } from 'yaml';
import { loadEnvoyProtos } from '../envoy/protos.ts';
import { DEFAULT_SETTINGS } from '../model/types.ts';
import { askReplicas, type ReplicaAnswer } from '../status/ask-replicas.ts';
import { fetchClientStatus, type ClientConfig } from '../status/csds-client.ts';
import { CSDS_TLS_OPTIONS, csdsTlsFromFlags } from '../status/csds-tls.ts';
import { mergeModel, mergeProxies, onSeveralReplicas, type ProxyOnReplica, type ReplicaReport } from '../status/merge.ts';
import { findReplicas, serverList, type ReplicaSource } from '../status/replicas.ts';
import { TYPE_LABELS } from '../status/summarize.ts';
import { parseDuration } from '../util/duration.ts';
import { formatTable } from '../util/table.ts';
import { UsageError, parseCommandArgs } from './usage.ts';

const HELP = `Usage: infermesh status [--server HOST:PORT[,HOST:PORT...] | --kubeconfig FILE] [--model M] [-o table|json|yaml]

Asks every control-plane replica's CSDS (on its xDS port) what each proxy connected to it runs, and merges
the answers: per proxy and type the version it ACKed, SYNCED / STALE (sent, not yet ACKed) / NACKED, the
last error, and the REPLICA it is connected to (a proxy on two replicas at once, e.g. while it moves, is
listed on both). With --model, where that model's latest policy is live, pending or refused on each proxy,
and its state across all replicas: live only when the proxies on every replica ACKed it. A sidecar that
routes by scopes (SRDS) loads a model's table and clusters on its first request for it: a model it has not
called is not-used there. JSON and YAML output are stable for scripts.

Replicas are found through the Service's EndpointSlices with --kubeconfig (or in a pod, its service
account), or listed with --server. Without either, outside a pod: localhost:18000.

Exit code: 0; 1 when a proxy NACKed (with --model: refused it); 3 when a replica did not answer (the others
are shown, the one missing is named); 2 on a usage error.

Options:
  --server HOST:PORT      a replica's xDS address; repeat it or separate with commas to ask several
  --kubeconfig FILE       find the replicas through the Service's EndpointSlices, with this kubeconfig
  --service NAME          the control plane's Service (default infermesh)
  --namespace NS          its namespace (default infermesh-system)
  --xds-port-name NAME    the Service's xDS port name, dialled on every endpoint (default grpc-xds)
  --timeout DURATION      how long to wait for each replica (default 5s)
  --tls-ca FILE           the xDS port serves TLS (serve --xds-tls-cert): check it against this CA
  --tls-cert FILE         a client certificate, when the port requires one (serve --xds-tls-client-ca)
  --tls-key FILE          ...and its key. Both or neither.
  --tls-server-name NAME  the name to expect in the replicas' certificate (default: the host dialled)
  --model M               one model: live / pending / refused / not-used on each proxy, and overall
  --grpc-target NAME      the gRPC target: tables are NAME and NAME/<model> (default ${DEFAULT_SETTINGS.grpcTarget})
  -o, --output FORMAT     table (default), json or yaml
`;

const DISCOVERY_DEFAULTS = { service: 'infermesh', namespace: 'infermesh-system', portName: 'grpc-xds' };
export const EXIT_REPLICA_MISSING = 3;

/** How each replica's CSDS is reached (the connection): addresses or discovery, and the per-replica timeout. */
const CONNECTION_OPTIONS = {
  server: { type: 'string', multiple: true },
  kubeconfig: { type: 'string' },
  service: { type: 'string' },
  namespace: { type: 'string' },
  'xds-port-name': { type: 'string' },
  timeout: { type: 'string', default: '5s' },
  ...CSDS_TLS_OPTIONS,
} as const;

interface ConnectionValues {
  server?: string[] | undefined;
  kubeconfig?: string | undefined;
  service?: string | undefined;
  namespace?: string | undefined;
  'xds-port-name'?: string | undefined;
  timeout: string;
  'tls-ca'?: string | undefined;
  'tls-cert'?: string | undefined;
  'tls-key'?: string | undefined;
  'tls-server-name'?: string | undefined;
}

function replicaSource(values: ConnectionValues, env: NodeJS.ProcessEnv): ReplicaSource {
  const servers = values.server ?? [];
  const discoveryFlags = values.kubeconfig !== undefined || values.service !== undefined || values.namespace !== undefined || values['xds-port-name'] !== undefined;
  if (servers.length > 0 && discoveryFlags) throw new UsageError('give --server addresses, or find the replicas with --kubeconfig/--service/--namespace, not both', HELP);
  if (servers.length > 0) return { kind: 'servers', addresses: errorsAsUsage(() => serverList(servers)) };
  if (values.kubeconfig === undefined && !env['KUBERNETES_SERVICE_HOST']) {
    if (discoveryFlags) throw new UsageError('finding the replicas through the Service needs --kubeconfig FILE (or running in a pod)', HELP);
    return { kind: 'servers', addresses: ['localhost:18000'] };
  }
  return {
    kind: 'service',
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    service: values.service ?? DISCOVERY_DEFAULTS.service,
    namespace: values.namespace ?? DISCOVERY_DEFAULTS.namespace,
    portName: values['xds-port-name'] ?? DISCOVERY_DEFAULTS.portName,
  };
}

function connection(values: ConnectionValues): { timeoutMs: number; ask: (address: string) => Promise<ClientConfig[]> } {
  const timeout = parseDuration(values.timeout);
  if (!timeout.ok || timeout.ms === 0) throw new UsageError(`--timeout: ${timeout.ok ? 'must be more than 0' : timeout.message}`, HELP);
  const root = loadEnvoyProtos();
  const tls = errorsAsUsage(() => csdsTlsFromFlags(values));
  return { timeoutMs: timeout.ms, ask: (address) => fetchClientStatus(root, address, timeout.ms, tls.credentials, tls.channelOptions) };
}

function errorsAsUsage<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), HELP);
  }
}

const short = (version: string) => (version.length > 10 ? version.slice(0, 8) : version) || '-';
const oneLine = (text: string, max: number) => text.replace(/\s+/g, ' ').slice(0, max);

function replicaNames(replicas: readonly ReplicaReport[]): (address: string) => string {
  const pods = new Map(replicas.map((r) => [r.address, r.pod ?? r.address]));
  return (address) => pods.get(address) ?? address;
}

function proxyTable(proxies: ProxyOnReplica[], name: (address: string) => string): string {
  if (proxies.length === 0) return 'no proxies connected\n';
  const kinds = Object.keys(TYPE_LABELS) as (keyof typeof TYPE_LABELS)[];
  const rows = proxies.map((p) => [
    p.node,
    p.pod ? `${p.namespace}/${p.pod}` : '-',
    name(p.replica),
    ...kinds.map((kind) => {
      const type = p.types[kind];
      return type ? `${short(type.version)}${type.status === 'SYNCED' ? '' : ` (${type.status})`}` : '-';
    }),
    p.status,
    p.lastError ? oneLine(p.lastError, 80) : '',
  ]);
  return formatTable(['NODE', 'POD', 'REPLICA', ...kinds.map((k) => TYPE_LABELS[k]), 'STATUS', 'LAST ERROR'], rows);
}

/** One line on the replicas asked, and under the table, proxies seen on several of them. */
function replicaLines(replicas: readonly ReplicaReport[], rows: readonly { node: string; replica: string }[], name: (address: string) => string): { head: string; notes: string } {
  const answered = replicas.filter((r) => r.reachable).length;
  const listed = replicas.map((r) => `${name(r.address)}${r.pod ? ` (${r.address})` : ''}${r.reachable ? '' : ' NOT ANSWERING'}`).join(', ');
  const head = `replicas: ${answered} of ${replicas.length} answered: ${listed}\n\n`;
  const notes = [...onSeveralReplicas(rows)].map(([node, on]) => `note: ${node} is connected to ${on.length} replicas (${on.map(name).join(', ')}): moving between them, or several proxies sharing one node id\n`);
  return { head, notes: notes.length > 0 ? `\n${notes.join('')}` : '' };
}

function render(value: unknown, format: string): string {
  return format === 'yaml' ? stringify(value) : `${JSON.stringify(value, null, 2)}\n`;
}

/** Each replica that did not answer, named on stderr whatever the output format (stdout stays parseable). */
function reportMissing(answers: readonly ReplicaAnswer[], err: NodeJS.WritableStream): boolean {
  const missing = answers.filter((a) => !a.reachable);
  for (const answer of missing) err.write(`infermesh status: replica ${answer.pod ? `${answer.pod} (${answer.address})` : answer.address} did not answer: ${answer.reachable ? '' : answer.error}\n`);
  return missing.length > 0;
}

export async function statusCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      ...CONNECTION_OPTIONS,
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
  const source = replicaSource(values, env);
  const { ask, timeoutMs } = connection(values);
  const answers = await askReplicas(await findReplicas(source), ask, timeoutMs);
  const missing = reportMissing(answers, err);
  const model = values.model;
  if (model !== undefined) {
    const merged = mergeModel(answers, model, values['grpc-target']);
    if (values.output !== 'table') {
      out.write(render(merged, values.output));
    } else {
      const name = replicaNames(merged.replicas);
      const { head, notes } = replicaLines(merged.replicas, merged.proxies, name);
      const counts = ['live', 'pending', 'refused', 'not-used'].map((state) => `${merged.proxies.filter((p) => p.state === state).length} ${state}`).join(', ');
      out.write(`${head}model ${model}: ${merged.state.toUpperCase()} across ${merged.replicas.length} replica${merged.replicas.length === 1 ? '' : 's'} (${counts})\n\n`);
      out.write(merged.proxies.length === 0 ? 'no proxies connected\n' : formatTable(['NODE', 'POD', 'REPLICA', 'STATE', 'ERROR'], merged.proxies.map((p) => [p.node, p.pod ?? '-', name(p.replica), p.state, p.error ? oneLine(p.error, 100) : ''])));
      out.write(notes);
    }
    return merged.state === 'refused' ? 1 : missing ? EXIT_REPLICA_MISSING : 0;
  }
  const merged = mergeProxies(answers);
  if (values.output !== 'table') {
    out.write(render(merged, values.output));
  } else {
    const name = replicaNames(merged.replicas);
    const { head, notes } = replicaLines(merged.replicas, merged.proxies, name);
    out.write(`${head}${proxyTable(merged.proxies, name)}${notes}`);
  }
  return merged.proxies.some((p) => p.status === 'NACKED') ? 1 : missing ? EXIT_REPLICA_MISSING : 0;
}

import { Document, isMap, isScalar, isSeq, parseDocument, Scalar } from 'yaml';
import {
  BOOTSTRAP_CONFIGMAP,
  BOOTSTRAP_KEY,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  type XdsAddress,
} from './options.ts';
import { type Path, stringAt } from './yaml-nodes.ts';
import { XDS_CLUSTER } from '../envoy/names.ts';
import { SDS_CA_FILE, SDS_CERTIFICATE_FILE, type XdsClientTls, xdsTransportSocketLines } from './xds-tls.ts';

const SDS_KEYS = [SDS_CERTIFICATE_FILE, SDS_CA_FILE];

const ADMIN_CLUSTER = 'envoy-admin';
const STATUS_LISTENER = 'infermesh-health';
const LB_ENDPOINTS = ['load_assignment', 'endpoints', 0, 'lb_endpoints'];
const ENDPOINT_SOCKET = [...LB_ENDPOINTS, 0, 'endpoint', 'address', 'socket_address'];

/** What differs between sidecars' bootstraps; everything else comes from the template as written. */
export interface BootstrapOptions {
  /** One address (a Service name), or several: one host each in the xDS cluster, for failing over between them. */
  xdsAddress: XdsAddress | readonly XdsAddress[];
  /** Envoy's admin interface (default in the template: 127.0.0.1:9901). */
  adminAddress?: XdsAddress;
  /** The static listener for probes and Prometheus (default in the template: 0.0.0.0:15021). */
  statusAddress?: XdsAddress;
  /**
   * Written as a `node` section; without it the node comes from --service-node/--service-cluster (and
   * --service-zone). `zone` becomes node.locality.zone: models with zoneFailover prefer endpoints in it.
   */
  node?: { id: string; cluster: string; zone?: string };
  /** TLS to the control plane: a transport_socket on the xDS cluster. Without it the text has none. */
  xdsTls?: XdsClientTls;
}

function yamlScalarText(value: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(value) ? value : JSON.stringify(value);
}

type Edit = { range: [number, number, number]; text: string };

function namedItem(doc: Document, listPath: Path, name: string): unknown {
  const list = doc.getIn(listPath, true);
  return isSeq(list) ? list.items.find((item) => isMap(item) && item.get('name') === name) : undefined;
}

function scalarAt(node: unknown, path: Path, what: string): Scalar & { range: [number, number, number] } {
  const scalar = isMap(node) ? node.getIn(path, true) : undefined;
  if (!isScalar(scalar) || !scalar.range) throw new Error(`the Envoy bootstrap template has no ${what}`);
  return scalar as Scalar & { range: [number, number, number] };
}

function addressEdits(node: unknown, socketPath: Path, address: XdsAddress, what: string): Edit[] {
  return [
    { range: scalarAt(node, [...socketPath, 'address'], `${what} address`).range, text: yamlScalarText(address.host) },
    { range: scalarAt(node, [...socketPath, 'port_value'], `${what} port`).range, text: String(address.port) },
  ];
}

/**
 * Addresses after the first become more hosts of the xDS cluster, written after its first endpoint in the
 * same layout. Envoy opens its one ADS stream to one host and, when that connection breaks, reconnects
 * (with backoff) through the cluster's load balancer, which picks another.
 */
function moreEndpoints(template: string, cluster: unknown, addresses: readonly XdsAddress[]): Edit[] {
  if (addresses.length === 0) return [];
  const list = isMap(cluster) ? cluster.getIn(LB_ENDPOINTS, true) : undefined;
  if (!isSeq(list) || !list.range) throw new Error(`the Envoy bootstrap template has no lb_endpoints in static cluster "${XDS_CLUSTER}"`);
  const at = list.range[1];
  const dash = list.range[0];
  const indent = ' '.repeat(dash - template.lastIndexOf('\n', dash - 1) - 1);
  const text = addresses
    .map((address) => [
      '- endpoint:',
      '    address:',
      '      socket_address:',
      `        address: ${yamlScalarText(address.host)}`,
      `        port_value: ${address.port}`,
    ].map((line) => `${indent}${line}\n`).join(''))
    .join('');
  return [{ range: [at, at, at], text: template.endsWith('\n', at) ? text : `\n${text}` }];
}

/** The transport_socket, written before the xDS cluster's typed_extension_protocol_options at its indentation. */
function transportSocketEdit(template: string, cluster: unknown, tls: XdsClientTls): Edit {
  const pair = isMap(cluster) ? cluster.items.find((item) => isScalar(item.key) && item.key.value === 'typed_extension_protocol_options') : undefined;
  const key = pair?.key;
  if (!isScalar(key) || !key.range) throw new Error(`the Envoy bootstrap template has no typed_extension_protocol_options in static cluster "${XDS_CLUSTER}"`);
  const at = key.range[0];
  const indent = ' '.repeat(at - template.lastIndexOf('\n', at - 1) - 1);
  return { range: [at, at, at], text: xdsTransportSocketLines(tls).map((line) => `${line}\n${indent}`).join('') };
}

/**
 * The bootstrap for one sidecar: the template with the control plane address (and, when given, the admin
 * and status addresses, the ADS flavour and the node) written in. Only those scalars change: every comment
 * and line of the template stays as it is.
 */
export function renderBootstrap(template: string, options: BootstrapOptions): string {
  const doc = parseDocument(template);
  if (doc.errors.length > 0) throw new Error(`the Envoy bootstrap template is not valid YAML: ${doc.errors[0]?.message}`);
  const clusters = ['static_resources', 'clusters'];
  const [first, ...more] = 'host' in options.xdsAddress ? [options.xdsAddress] : options.xdsAddress;
  if (!first) throw new Error('no xDS address');
  const xdsCluster = namedItem(doc, clusters, XDS_CLUSTER);
  const edits = [
    ...addressEdits(xdsCluster, ENDPOINT_SOCKET, first, `static cluster "${XDS_CLUSTER}" with a socket_address`),
    ...moreEndpoints(template, xdsCluster, more),
    ...(options.xdsTls ? [transportSocketEdit(template, xdsCluster, options.xdsTls)] : []),
  ];
  if (options.adminAddress) {
    edits.push(...addressEdits(doc.contents, ['admin', 'address', 'socket_address'], options.adminAddress, 'admin socket_address'));
    // The status listener forwards to the admin interface through this cluster: keep the two in step.
    edits.push(...addressEdits(namedItem(doc, clusters, ADMIN_CLUSTER), ENDPOINT_SOCKET, options.adminAddress, `static cluster "${ADMIN_CLUSTER}"`));
  }
  if (options.statusAddress) {
    const listener = namedItem(doc, ['static_resources', 'listeners'], STATUS_LISTENER);
    edits.push(...addressEdits(listener, ['address', 'socket_address'], options.statusAddress, `listener "${STATUS_LISTENER}"`));
  }
  let text = template;
  for (const edit of edits.sort((a, b) => b.range[0] - a.range[0])) text = text.slice(0, edit.range[0]) + edit.text + text.slice(edit.range[1]);
  if (options.node) {
    text += `\n# The node identity, written by \`infermesh bootstrap --node-id\` (inject passes it on the command line instead).\n` +
      `node:\n  id: ${JSON.stringify(options.node.id)}\n  cluster: ${JSON.stringify(options.node.cluster)}\n` +
      (options.node.zone === undefined ? '' : `  locality:\n    zone: ${JSON.stringify(options.node.zone)}\n`);
  }
  return text;
}

function literalBlock(text: string): Scalar {
  const scalar = new Scalar(text);
  scalar.type = Scalar.BLOCK_LITERAL;
  return scalar;
}

/** The ConfigMap document (YAML text, without a `---` line) holding the bootstrap (and its SDS files) for one namespace. */
export function bootstrapConfigMap(namespace: string | undefined, bootstrap: string, sdsFiles: Record<string, string> = {}): string {
  const doc = new Document(
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: BOOTSTRAP_CONFIGMAP,
        ...(namespace === undefined ? {} : { namespace }),
        labels: { 'app.kubernetes.io/part-of': 'infermesh', [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      },
      data: { [BOOTSTRAP_KEY]: '' },
    },
    { version: '1.1' },
  );
  doc.setIn(['data', BOOTSTRAP_KEY], literalBlock(bootstrap));
  for (const [key, text] of Object.entries(sdsFiles)) doc.setIn(['data', key], literalBlock(text));
  doc.commentBefore =
    ' Envoy bootstrap of the infermesh sidecars in this namespace, written by `infermesh inject`.\n' +
    ' Re-running inject brings it up to date; remove the managed-by label to keep hand edits.';
  return doc.toString({ lineWidth: 0 });
}

/** True for a bootstrap ConfigMap at `path` (any namespace); `generated` when inject wrote it. */
export function bootstrapConfigMapAt(doc: Document, path: Path): { generated: boolean } | undefined {
  if (stringAt(doc, [...path, 'kind']) !== 'ConfigMap' || stringAt(doc, [...path, 'metadata', 'name']) !== BOOTSTRAP_CONFIGMAP) return undefined;
  return { generated: stringAt(doc, [...path, 'metadata', 'labels', MANAGED_BY_LABEL]) === MANAGED_BY_VALUE };
}

/** Brings the bootstrap (and its SDS files) of a generated ConfigMap up to date; false when it already is. */
export function refreshBootstrapConfigMap(doc: Document, path: Path, bootstrap: string, sdsFiles: Record<string, string> = {}): boolean {
  let changed = false;
  for (const [key, text] of [[BOOTSTRAP_KEY, bootstrap], ...Object.entries(sdsFiles)] as const) {
    const dataPath = [...path, 'data', key];
    if (stringAt(doc, dataPath) === text) continue;
    doc.setIn(dataPath, literalBlock(text));
    changed = true;
  }
  // SDS files of an earlier TLS run, when this one has none.
  for (const key of SDS_KEYS) {
    if (!(key in sdsFiles) && doc.hasIn([...path, 'data', key])) changed = doc.deleteIn([...path, 'data', key]) || changed;
  }
  return changed;
}

import { Document, isMap, isScalar, isSeq, parseDocument, Scalar } from 'yaml';
import {
  BOOTSTRAP_CONFIGMAP,
  BOOTSTRAP_KEY,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  type XdsAddress,
} from './options.ts';
import { type Path, stringAt } from './yaml-nodes.ts';

const XDS_CLUSTER = 'infermesh-xds';
const SOCKET_ADDRESS_PATH = ['load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address'];

function yamlScalarText(value: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(value) ? value : JSON.stringify(value);
}

/**
 * The bootstrap with the control plane address written into its `infermesh-xds` cluster. Only the two
 * scalars change: every comment and line of the template stays as it is.
 */
export function renderBootstrap(template: string, address: XdsAddress): string {
  const doc = parseDocument(template);
  if (doc.errors.length > 0) throw new Error(`the Envoy bootstrap template is not valid YAML: ${doc.errors[0]?.message}`);
  const clusters = doc.getIn(['static_resources', 'clusters'], true);
  const cluster = isSeq(clusters) ? clusters.items.find((item) => isMap(item) && item.get('name') === XDS_CLUSTER) : undefined;
  const socket = isMap(cluster) ? cluster.getIn(SOCKET_ADDRESS_PATH, true) : undefined;
  const host = isMap(socket) ? socket.get('address', true) : undefined;
  const port = isMap(socket) ? socket.get('port_value', true) : undefined;
  if (!isScalar(host) || !isScalar(port) || !host.range || !port.range) {
    throw new Error(`the Envoy bootstrap template has no static cluster "${XDS_CLUSTER}" with a socket_address`);
  }
  const edits = [
    { range: host.range, text: yamlScalarText(address.host) },
    { range: port.range, text: String(address.port) },
  ].sort((a, b) => b.range[0] - a.range[0]);
  let text = template;
  for (const edit of edits) text = text.slice(0, edit.range[0]) + edit.text + text.slice(edit.range[1]);
  return text;
}

function literalBlock(text: string): Scalar {
  const scalar = new Scalar(text);
  scalar.type = Scalar.BLOCK_LITERAL;
  return scalar;
}

/** The ConfigMap document (YAML text, without a `---` line) holding the bootstrap for one namespace. */
export function bootstrapConfigMap(namespace: string | undefined, bootstrap: string): string {
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

/** Brings the bootstrap of a generated ConfigMap up to date; false when it already is. */
export function refreshBootstrapConfigMap(doc: Document, path: Path, bootstrap: string): boolean {
  const dataPath = [...path, 'data', BOOTSTRAP_KEY];
  if (stringAt(doc, dataPath) === bootstrap) return false;
  doc.setIn(dataPath, literalBlock(bootstrap));
  return true;
}

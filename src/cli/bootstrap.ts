import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderBootstrap } from '../inject/bootstrap.ts';
import { ADMIN_PORT, DEFAULT_XDS_ADDRESS, STATUS_PORT, parseHostPort, parseXdsAddress, type XdsAddress } from '../inject/options.ts';
import { xdsClientTls, xdsTlsSdsFiles } from '../inject/xds-tls.ts';
import { UsageError, parseCommandArgs } from './usage.ts';

const HELP = `Usage: infermesh bootstrap [options] > bootstrap.yaml

Prints the Envoy bootstrap of an infermesh sidecar: the same file \`infermesh inject\` ships to each
namespace, with the addresses below written in. For running a sidecar by hand, next to a local
\`infermesh serve\`:

  infermesh bootstrap --xds-address 127.0.0.1:18000 --node-id dev.default > bootstrap.yaml
  envoy -c bootstrap.yaml

Options:
  --xds-address HOST:PORT     infermesh's ADS address (default ${DEFAULT_XDS_ADDRESS})
                              Repeated or comma-separated: one host each in the xDS cluster. The ADS
                              stream goes to one; when its connection breaks Envoy reconnects to another
                              (two replicas run by hand: --xds-address 127.0.0.1:18000,127.0.0.1:18001).
                              In Kubernetes the Service name alone is enough.
  --node-id ID                writes a node section (id ID, cluster from --node-cluster); without it the
                              node must come from envoy's --service-node/--service-cluster, as inject does
  --node-cluster NAME         the node's cluster (default: what follows the first "." in ID, else "default")
  --zone ZONE                 the node's locality zone (with --node-id): models with zoneFailover send
                              this sidecar's calls to their endpoints in ZONE first, then to other zones.
                              Injected sidecars get it from envoy --service-zone instead
  --admin-address HOST:PORT   Envoy's admin interface (default 127.0.0.1:${ADMIN_PORT})
  --status-address HOST:PORT  the probe and Prometheus listener (default 0.0.0.0:${STATUS_PORT})
  --xds-tls-ca FILE           talk TLS to the control plane (serve --xds-tls-cert) and check its
                              certificate against this CA (a path Envoy reads when it starts)
  --xds-tls-cert FILE         the sidecar's client certificate, for a control plane that requires one
  --xds-tls-key FILE          ...and its key (serve --xds-tls-client-ca). Both or neither.
  --xds-tls-server-name NAME  the name the control plane's certificate must carry, and the SNI
                              (default: the host of the first --xds-address)
  --xds-tls-sds-dir DIR       write SDS files for those certificates into DIR and have Envoy take them
                              from there: it then reads the certificates again when their folder
                              changes (rotation); without it, once at start

Exit 0 on success, 2 on usage errors.
`;

const OPTIONS = {
  'xds-address': { type: 'string', multiple: true },
  'node-id': { type: 'string' },
  'node-cluster': { type: 'string' },
  zone: { type: 'string' },
  'admin-address': { type: 'string' },
  'status-address': { type: 'string' },
  'xds-tls-ca': { type: 'string' },
  'xds-tls-cert': { type: 'string' },
  'xds-tls-key': { type: 'string' },
  'xds-tls-server-name': { type: 'string' },
  'xds-tls-sds-dir': { type: 'string' },
} as const;

/** Every address of every --xds-address (repeated, or comma-separated), in order, each once. */
function xdsAddressesFrom(values: readonly string[] | undefined): XdsAddress[] {
  const texts = (values ?? [DEFAULT_XDS_ADDRESS]).flatMap((value) => value.split(',')).map((text) => text.trim());
  const addresses = new Map<string, XdsAddress>();
  for (const text of texts) {
    const address = parseXdsAddress(text);
    addresses.set(`${address.host}:${address.port}`, address);
  }
  return [...addresses.values()];
}

function nodeFrom(id: string | undefined, cluster: string | undefined, zone: string | undefined): { id: string; cluster: string; zone?: string } | undefined {
  if (id === undefined) {
    if (cluster !== undefined) throw new Error('--node-cluster needs --node-id');
    if (zone !== undefined) throw new Error('--zone needs --node-id (without a node section, the zone comes from envoy --service-zone)');
    return undefined;
  }
  if (id.trim() === '') throw new Error('--node-id must not be empty');
  if (zone !== undefined && zone.trim() === '') throw new Error('--zone must not be empty');
  const dot = id.indexOf('.');
  return { id, cluster: cluster ?? (dot > 0 && dot < id.length - 1 ? id.slice(dot + 1) : 'default'), ...(zone === undefined ? {} : { zone }) };
}

/** `infermesh bootstrap`: prints a sidecar's Envoy bootstrap. */
export async function bootstrapCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values } = parseCommandArgs(argv, OPTIONS, HELP);
  if (values.help) {
    out.write(HELP);
    return 0;
  }
  let options;
  try {
    const node = nodeFrom(values['node-id'], values['node-cluster'], values.zone);
    const xdsAddress = xdsAddressesFrom(values['xds-address']);
    const sdsDir = values['xds-tls-sds-dir'];
    const tls = xdsClientTls({ ca: values['xds-tls-ca'], cert: values['xds-tls-cert'], key: values['xds-tls-key'], serverName: values['xds-tls-server-name'] }, xdsAddress[0]?.host ?? '');
    if (sdsDir !== undefined && tls === undefined) throw new Error('--xds-tls-sds-dir needs --xds-tls-ca');
    // Envoy resolves the SDS and certificate paths itself: make them absolute.
    const xdsTls = tls && sdsDir !== undefined ? { ...tls, sdsDir: path.resolve(sdsDir) } : tls;
    options = {
      xdsAddress,
      ...(values['admin-address'] === undefined ? {} : { adminAddress: parseHostPort('--admin-address', values['admin-address'], `127.0.0.1:${ADMIN_PORT}`) }),
      ...(values['status-address'] === undefined ? {} : { statusAddress: parseHostPort('--status-address', values['status-address'], `0.0.0.0:${STATUS_PORT}`) }),
      ...(node === undefined ? {} : { node }),
      ...(xdsTls === undefined ? {} : { xdsTls }),
    };
  } catch (error) {
    throw new UsageError((error as Error).message, HELP);
  }
  if (options.xdsTls?.sdsDir !== undefined) {
    await mkdir(options.xdsTls.sdsDir, { recursive: true });
    for (const [name, text] of Object.entries(xdsTlsSdsFiles(options.xdsTls))) await writeFile(path.join(options.xdsTls.sdsDir, name), text);
  }
  const template = await readFile(new URL('../../envoy/bootstrap.yaml', import.meta.url), 'utf8');
  out.write(renderBootstrap(template, options));
  return 0;
}

import { isIP } from 'node:net';

/** How a sidecar reaches a control plane that serves TLS (serve --xds-tls-*): files inside the sidecar. */
export interface XdsClientTls {
  /** CA the control plane's certificate must chain to. */
  caFile: string;
  /** The proxy's own certificate and key, for a control plane that requires one (mTLS). Both or neither. */
  certFile?: string;
  keyFile?: string;
  /** The name the control plane's certificate must carry (a DNS or IP SAN); sent as SNI when a DNS name. */
  serverName: string;
  /**
   * Where the SDS files (xdsTlsSdsFiles) are. With it, Envoy takes the certificates through file-based SDS
   * and reads them again when their folder changes (a Secret volume update); without it, once at start.
   */
  sdsDir?: string;
}

/** The SDS files, by name, in sdsDir. */
export const SDS_CERTIFICATE_FILE = 'xds-tls-certificate.yaml';
export const SDS_CA_FILE = 'xds-tls-ca.yaml';
const CERTIFICATE_SECRET = 'infermesh-xds-client';
const CA_SECRET = 'infermesh-xds-ca';

/** Where inject mounts the Secret with the sidecar's client certificate (keys tls.crt, tls.key, ca.crt). */
export const XDS_TLS_MOUNT_PATH = '/etc/infermesh-xds-tls';
export const XDS_TLS_VOLUME = 'infermesh-xds-tls';
export const DEFAULT_XDS_TLS_SECRET = 'infermesh-xds-client-tls';

/** Checks the flags of bootstrap/inject; throws naming the flag. */
export function xdsClientTls(flags: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined; serverName?: string | undefined }, defaultServerName: string): XdsClientTls | undefined {
  const { ca, cert, key, serverName } = flags;
  if (ca === undefined) {
    const given = [['--xds-tls-cert', cert], ['--xds-tls-key', key], ['--xds-tls-server-name', serverName]].find(([, value]) => value !== undefined);
    if (given) throw new Error(`${given[0]} needs --xds-tls-ca (the CA that signed the control plane's certificate)`);
    return undefined;
  }
  if ((cert === undefined) !== (key === undefined)) throw new Error(cert === undefined ? '--xds-tls-key needs --xds-tls-cert (give both or neither)' : '--xds-tls-cert needs --xds-tls-key (give both or neither)');
  for (const [flag, value] of [['--xds-tls-ca', ca], ['--xds-tls-cert', cert], ['--xds-tls-key', key], ['--xds-tls-server-name', serverName]] as const) {
    if (value !== undefined && (value.trim() === '' || /[\s"'\\]/.test(value))) throw new Error(`${flag} "${value}" must be a path or name without spaces or quotes`);
  }
  return { caFile: ca, ...(cert !== undefined && key !== undefined ? { certFile: cert, keyFile: key } : {}), serverName: serverName ?? defaultServerName };
}

const dirOf = (file: string) => file.slice(0, Math.max(1, file.lastIndexOf('/')));
const q = (text: string) => JSON.stringify(text);

/** An sds_config reading one file of sdsDir, re-read when the folder changes (a ConfigMap volume update). */
function sdsSecretConfig(name: string, sdsDir: string, file: string): string[] {
  return [
    `name: ${name}`,
    'sds_config:',
    '  path_config_source:',
    `    path: ${q(`${sdsDir}/${file}`)}`,
    `    watched_directory: { path: ${q(sdsDir)} }`,
    '  resource_api_version: V3',
  ];
}

const indent = (lines: string[], by: string) => lines.map((line) => `${by}${line}`);

/**
 * The SDS files of a bootstrap with sdsDir: one Secret each (Envoy's file-based SDS takes one resource per
 * file). Each Secret names the certificate files and their folder: a file moved into that folder (the
 * kubelet's `..data` swap) makes Envoy read the pair again, checked for consistency, for the next
 * connection to the control plane.
 */
export function xdsTlsSdsFiles(tls: XdsClientTls): Record<string, string> {
  const secret = (name: string, body: string[]) =>
    ['resources:', '  - "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', `    name: ${name}`, ...indent(body, '    '), ''].join('\n');
  const files: Record<string, string> = {
    [SDS_CA_FILE]: secret(CA_SECRET, ['validation_context:', `  trusted_ca: { filename: ${q(tls.caFile)} }`, `  watched_directory: { path: ${q(dirOf(tls.caFile))} }`]),
  };
  if (tls.certFile && tls.keyFile) {
    files[SDS_CERTIFICATE_FILE] = secret(CERTIFICATE_SECRET, [
      'tls_certificate:',
      `  certificate_chain: { filename: ${q(tls.certFile)} }`,
      `  private_key: { filename: ${q(tls.keyFile)} }`,
      `  watched_directory: { path: ${q(dirOf(tls.certFile))} }`,
    ]);
  }
  return files;
}

/**
 * The `transport_socket` of the bootstrap's xDS cluster, as YAML lines (without indentation): TLS with
 * ALPN h2 (grpc-js's server, like any HTTP/2 server over TLS, wants it), the control plane's certificate
 * checked against the CA and the server name, and the proxy's certificate when it has one.
 */
export function xdsTransportSocketLines(tls: XdsClientTls): string[] {
  const ip = isIP(tls.serverName) !== 0;
  const mtls = tls.certFile !== undefined && tls.keyFile !== undefined;
  const san = ['match_typed_subject_alt_names:', `  - san_type: ${ip ? 'IP_ADDRESS' : 'DNS'}`, `    matcher: { exact: ${q(tls.serverName)} }`];
  const sdsDir = tls.sdsDir;
  const context = sdsDir
    ? [
        ...(mtls ? ['tls_certificate_sds_secret_configs:', ...indent(sdsSecretConfig(CERTIFICATE_SECRET, sdsDir, SDS_CERTIFICATE_FILE), '  ').map((line, i) => (i === 0 ? `  - ${line.trimStart()}` : `  ${line}`))] : []),
        'combined_validation_context:',
        '  default_validation_context:',
        ...indent(san, '    '),
        '  validation_context_sds_secret_config:',
        ...indent(sdsSecretConfig(CA_SECRET, sdsDir, SDS_CA_FILE), '    '),
      ]
    : [
        ...(mtls ? ['tls_certificates:', `  - certificate_chain: { filename: ${q(tls.certFile!)} }`, `    private_key: { filename: ${q(tls.keyFile!)} }`] : []),
        'validation_context:',
        `  trusted_ca: { filename: ${q(tls.caFile)} }`,
        ...indent(san, '  '),
      ];
  return [
    '# TLS to the control plane (bootstrap/inject --xds-tls-*): its certificate must chain to the CA',
    `# and name ${tls.serverName}${mtls ? '; the sidecar presents its own certificate (mTLS)' : ''}.`,
    sdsDir
      ? `# The certificates come through the SDS files in ${sdsDir}: Envoy reads them again when they rotate.`
      : '# Envoy reads these files when it starts: restart the sidecar after they change.',
    'transport_socket:',
    '  name: envoy.transport_sockets.tls',
    '  typed_config:',
    '    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
    ...(ip ? [] : [`    sni: ${tls.serverName}`]),
    '    common_tls_context:',
    '      alpn_protocols: [h2]',
    ...indent(context, '      '),
  ];
}

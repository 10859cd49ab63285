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
}

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

/**
 * The `transport_socket` of the bootstrap's xDS cluster, as YAML lines (without indentation): TLS with
 * ALPN h2 (grpc-js's server, like any HTTP/2 server over TLS, wants it), the control plane's certificate
 * checked against the CA and the server name, and the proxy's certificate when it has one. Envoy reads
 * the files when it starts.
 */
export function xdsTransportSocketLines(tls: XdsClientTls): string[] {
  const ip = isIP(tls.serverName) !== 0;
  return [
    '# TLS to the control plane (bootstrap/inject --xds-tls-*): its certificate must chain to the CA',
    `# below and name ${tls.serverName}${tls.certFile ? '; the sidecar presents its own certificate (mTLS)' : ''}.`,
    '# Envoy reads these files when it starts: restart the sidecar after they change.',
    'transport_socket:',
    '  name: envoy.transport_sockets.tls',
    '  typed_config:',
    '    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
    ...(ip ? [] : [`    sni: ${tls.serverName}`]),
    '    common_tls_context:',
    '      alpn_protocols: [h2]',
    ...(tls.certFile && tls.keyFile
      ? ['      tls_certificates:', `        - certificate_chain: { filename: ${JSON.stringify(tls.certFile)} }`, `          private_key: { filename: ${JSON.stringify(tls.keyFile)} }`]
      : []),
    '      validation_context:',
    `        trusted_ca: { filename: ${JSON.stringify(tls.caFile)} }`,
    '        match_typed_subject_alt_names:',
    `          - san_type: ${ip ? 'IP_ADDRESS' : 'DNS'}`,
    `            matcher: { exact: ${JSON.stringify(tls.serverName)} }`,
  ];
}

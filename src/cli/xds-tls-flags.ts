import { parseDuration } from '../util/duration.ts';
import { readTlsFilesOrThrow, type XdsTlsFiles } from '../xds/tls-credentials.ts';

/** `serve` flags for TLS (and mTLS) on the xDS port, which ADS and CSDS share. */
export const XDS_TLS_OPTIONS = {
  'xds-tls-cert': { type: 'string' },
  'xds-tls-key': { type: 'string' },
  'xds-tls-client-ca': { type: 'string' },
  'xds-tls-refresh': { type: 'string' },
} as const;

export const XDS_TLS_HELP = `  --xds-tls-cert FILE     serve the xDS port over TLS with this certificate (PEM, chain allowed);
  --xds-tls-key FILE      ...and its private key. Both or neither. Without them the port is plain text.
  --xds-tls-client-ca FILE
                          require a client certificate signed by this CA (mTLS); without it, TLS only
  --xds-tls-refresh DURATION
                          how often the three files are read again (default 1m): a connection made after
                          a rotation (e.g. a Secret volume update) gets the new certificate, open ones
                          keep working
`;

export interface XdsTlsFlags {
  'xds-tls-cert'?: string;
  'xds-tls-key'?: string;
  'xds-tls-client-ca'?: string;
  'xds-tls-refresh'?: string;
}

/** The TLS files the flags name, checked now (readable, a certificate and its key); undefined without TLS. */
export function xdsTlsFromFlags(values: XdsTlsFlags): XdsTlsFiles | undefined {
  const certFile = values['xds-tls-cert'];
  const keyFile = values['xds-tls-key'];
  const clientCaFile = values['xds-tls-client-ca'];
  const refresh = values['xds-tls-refresh'];
  if (certFile === undefined && keyFile === undefined) {
    if (clientCaFile !== undefined) throw new Error('--xds-tls-client-ca needs --xds-tls-cert and --xds-tls-key (the server\'s own certificate)');
    if (refresh !== undefined) throw new Error('--xds-tls-refresh needs --xds-tls-cert and --xds-tls-key');
    return undefined;
  }
  if (certFile === undefined) throw new Error('--xds-tls-key needs --xds-tls-cert (give both or neither)');
  if (keyFile === undefined) throw new Error('--xds-tls-cert needs --xds-tls-key (give both or neither)');
  let refreshMs: number | undefined;
  if (refresh !== undefined) {
    const parsed = parseDuration(refresh);
    if (!parsed.ok || parsed.ms < 100) throw new Error(`--xds-tls-refresh: ${parsed.ok ? 'must be at least 100ms' : parsed.message}`);
    refreshMs = parsed.ms;
  }
  const files: XdsTlsFiles = { certFile, keyFile, ...(clientCaFile !== undefined ? { clientCaFile } : {}), ...(refreshMs !== undefined ? { refreshMs } : {}) };
  readTlsFilesOrThrow(files);
  return files;
}

import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';

/** `status` flags for an xDS port that serves TLS (serve --xds-tls-cert) or mTLS (--xds-tls-client-ca). */
export const CSDS_TLS_OPTIONS = {
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-server-name': { type: 'string' },
} as const;

interface Flags {
  'tls-ca'?: string | undefined;
  'tls-cert'?: string | undefined;
  'tls-key'?: string | undefined;
  'tls-server-name'?: string | undefined;
}

function read(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`${flag} ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** Credentials for the CSDS calls: plain text without --tls-ca; throws naming the flag otherwise. */
export function csdsTlsFromFlags(values: Flags): { credentials: grpc.ChannelCredentials; channelOptions: grpc.ChannelOptions } {
  const { 'tls-ca': ca, 'tls-cert': cert, 'tls-key': key, 'tls-server-name': serverName } = values;
  if (ca === undefined) {
    const given = (['tls-cert', 'tls-key', 'tls-server-name'] as const).find((flag) => values[flag] !== undefined);
    if (given) throw new Error(`--${given} needs --tls-ca (the CA that signed the control plane's certificate)`);
    return { credentials: grpc.credentials.createInsecure(), channelOptions: {} };
  }
  if ((cert === undefined) !== (key === undefined)) throw new Error(cert === undefined ? '--tls-key needs --tls-cert (give both or neither)' : '--tls-cert needs --tls-key (give both or neither)');
  const caPem = read('--tls-ca', ca);
  const keyPem = key === undefined ? null : read('--tls-key', key);
  const certPem = cert === undefined ? null : read('--tls-cert', cert);
  let credentials: grpc.ChannelCredentials;
  try {
    credentials = grpc.credentials.createSsl(caPem, keyPem, certPem);
  } catch (error) {
    throw new Error(`--tls-ca/--tls-cert/--tls-key: ${(error as Error).message}`);
  }
  return { credentials, channelOptions: serverName === undefined ? {} : { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } };
}

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost, made with the openssl CLI. */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Certificates {
  caPem: string;
  certPem: string;
  keyPem: string;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function generateCertificates(dir: string, openssl = 'openssl'): Promise<Certificates> {
  const file = (name: string): string => path.join(dir, name);
  await run(openssl, [
    'req', '-x509', ...EC_KEY, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '2', '-subj', '/CN=fake-kube-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run(openssl, ['req', '-new', ...EC_KEY, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=fake-kube-apiserver']);
  await writeFile(
    file('server.ext'),
    ['subjectAltName=IP:127.0.0.1,DNS:localhost', 'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', ''].join('\n'),
  );
  await run(openssl, [
    'x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-set_serial', `0x${Date.now().toString(16)}`,
    '-days', '2', '-extfile', file('server.ext'), '-out', file('server.crt'),
  ]);
  const [caPem, certPem, keyPem] = await Promise.all([readFile(file('ca.crt'), 'utf8'), readFile(file('server.crt'), 'utf8'), readFile(file('server.key'), 'utf8')]);
  return { caPem, certPem, keyPem };
}

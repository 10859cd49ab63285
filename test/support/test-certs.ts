/**
 * Throwaway certificates for the mTLS tests, made with openssl into a temporary folder: a CA, server
 * certificates for 127.0.0.1 / localhost / infermesh.test (two, to rotate between), a client certificate,
 * and a second CA with a client certificate of its own (one the server must refuse). EC P-256, valid 2 days.
 * Also a Kubernetes-style Secret volume (files behind the `..data` symlink) to rotate them as the kubelet does.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KeyPair {
  cert: string;
  key: string;
  /** The certificate's serial as Node's X509Certificate prints it (upper-case hex). */
  serial: string;
}

export interface TestCerts {
  dir: string;
  /** The CA of the servers and of the accepted clients. */
  ca: KeyPair;
  server: KeyPair;
  /** Another server certificate from the same CA: what a rotation brings. */
  rotatedServer: KeyPair;
  client: KeyPair;
  /** A CA the server does not trust, and a client certificate it signed. */
  otherCa: KeyPair;
  otherClient: KeyPair;
  /** The DNS name in the server certificates besides localhost. */
  serverName: string;
  close(): Promise<void>;
}

export const SERVER_NAME = 'infermesh.test';

async function newKeyRequest(openssl: string, dir: string, name: string, subject: string): Promise<{ key: string; csr: string }> {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  await run(openssl, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', subject]);
  return { key, csr };
}

async function makeCa(openssl: string, dir: string, name: string, serial: string): Promise<KeyPair> {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  await run(openssl, [
    'req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', `/CN=${name}`, '-set_serial', `0x${serial}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key, serial };
}

async function makeLeaf(openssl: string, dir: string, ca: KeyPair, name: string, serial: string, extensions: string): Promise<KeyPair> {
  const { key, csr } = await newKeyRequest(openssl, dir, name, `/CN=${name}`);
  const cert = path.join(dir, `${name}.crt`);
  const ext = path.join(dir, `${name}.ext`);
  await writeFile(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n${extensions}\n`);
  await run(openssl, ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${serial}`, '-days', '2', '-out', cert, '-extfile', ext]);
  return { cert, key, serial };
}

/** Makes the whole set; close() removes the folder. */
export async function makeTestCerts(openssl: string): Promise<TestCerts> {
  const dir = await mkdtemp(path.join(tmpdir(), 'infermesh-certs-'));
  try {
    const [ca, otherCa] = await Promise.all([makeCa(openssl, dir, 'test-ca', '0A01'), makeCa(openssl, dir, 'other-ca', '0B01')]);
    const serverExt = `extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:${SERVER_NAME}`;
    const clientExt = 'extendedKeyUsage=clientAuth\nsubjectAltName=DNS:sidecar.test';
    const [server, rotatedServer, client, otherClient] = await Promise.all([
      makeLeaf(openssl, dir, ca, 'server', '0A02', serverExt),
      makeLeaf(openssl, dir, ca, 'server-rotated', '0A03', serverExt),
      makeLeaf(openssl, dir, ca, 'client', '0A04', clientExt),
      makeLeaf(openssl, dir, otherCa, 'other-client', '0B02', clientExt),
    ]);
    return { dir, ca, server, rotatedServer, client, otherCa, otherClient, serverName: SERVER_NAME, close: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * A folder laid out as the kubelet writes a Secret volume: the files in a timestamped folder, `..data` a
 * symlink to it, and each key a symlink through `..data`. update() swaps `..data` atomically (rename of a
 * new symlink over it), as a Secret update does.
 */
export class SecretVolume {
  readonly dir: string;
  #generation = 0;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(dir: string, files: Record<string, string>): Promise<SecretVolume> {
    await mkdir(dir, { recursive: true });
    const volume = new SecretVolume(dir);
    const first = await volume.#writeGeneration(files);
    await symlink(first, path.join(dir, '..data'));
    for (const name of Object.keys(files)) await symlink(path.join('..data', name), path.join(dir, name));
    return volume;
  }

  /** The path of one key, as a pod sees it. */
  file(name: string): string {
    return path.join(this.dir, name);
  }

  /** Replaces every file at once, as a Secret update does; files are copied from the given paths. */
  async update(files: Record<string, string>): Promise<void> {
    const next = await this.#writeGeneration(files);
    const temporary = path.join(this.dir, '..data_tmp');
    await symlink(next, temporary);
    await rename(temporary, path.join(this.dir, '..data'));
  }

  async #writeGeneration(files: Record<string, string>): Promise<string> {
    this.#generation += 1;
    const name = `..2026_12_03_00_00_00.${this.#generation}`;
    await mkdir(path.join(this.dir, name));
    for (const [key, source] of Object.entries(files)) await writeFile(path.join(this.dir, name, key), await readFile(source));
    return name;
  }
}

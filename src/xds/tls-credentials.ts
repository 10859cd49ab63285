import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';

type CertificateProvider = grpc.experimental.CertificateProvider;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;
type CaListener = grpc.experimental.CaCertificateUpdateListener;

/** The files of `serve --xds-tls-cert/--xds-tls-key/--xds-tls-client-ca`. */
export interface XdsTlsFiles {
  certFile: string;
  keyFile: string;
  /** When set, clients must present a certificate this CA signed; without it, TLS only. */
  clientCaFile?: string;
  /** How often the files are read again (default 60 s: a Kubernetes Secret volume updates within ~1-2 min). */
  refreshMs?: number;
}

/** What the watcher reported last: undefined until it reports, null when it could not read the file. */
interface WatcherRead {
  identity?: grpc.experimental.IdentityCertificateUpdate | null;
  ca?: grpc.experimental.CaCertificateUpdate | null;
}

interface Material {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/** What the serving certificate is, for logs and tests. */
export interface CertificateInfo {
  serial: string;
  fingerprint256: string;
  subject: string;
  validTo: string;
}

export function certificateInfo(pem: Buffer): CertificateInfo {
  const cert = new X509Certificate(pem);
  return { serial: cert.serialNumber, fingerprint256: cert.fingerprint256, subject: cert.subject, validTo: cert.validTo };
}

/** Throws unless Node can serve with these (parsable PEM, the key matches the certificate, a parsable CA). */
function check(material: Material): void {
  createSecureContext({ cert: material.cert, key: material.key, ...(material.ca ? { ca: material.ca } : {}) });
  if (material.ca) new X509Certificate(material.ca);
}

const same = (a: Material, b: Material) => a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca === b.ca || (a.ca !== undefined && b.ca !== undefined && a.ca.equals(b.ca)));

/**
 * Reads the files once, now: an unreadable or unusable file is an error naming its flag, before anything
 * listens.
 */
export function readTlsFilesOrThrow(files: XdsTlsFiles): Material {
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`${flag} ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  };
  const material: Material = { cert: read('--xds-tls-cert', files.certFile), key: read('--xds-tls-key', files.keyFile), ...(files.clientCaFile ? { ca: read('--xds-tls-client-ca', files.clientCaFile) } : {}) };
  try {
    new X509Certificate(material.cert);
  } catch (error) {
    throw new Error(`--xds-tls-cert ${files.certFile}: not a PEM certificate (${(error as Error).message})`);
  }
  if (material.ca) {
    try {
      new X509Certificate(material.ca);
    } catch (error) {
      throw new Error(`--xds-tls-client-ca ${files.clientCaFile}: not a PEM certificate (${(error as Error).message})`);
    }
  }
  try {
    check(material);
  } catch (error) {
    throw new Error(`--xds-tls-key ${files.keyFile}: does not go with --xds-tls-cert ${files.certFile} (${(error as Error).message})`);
  }
  return material;
}

/**
 * grpc-js's FileWatcherCertificateProvider, re-read every refreshMs, behind a guard. The watcher reads the
 * certificate, the key and the CA one after another and hands on whatever it read: during a rotation it
 * can read a new certificate with the old key (or miss a file), and grpc-js then stops accepting
 * connections until its next read. The guard passes a set on only when Node can serve with it, and keeps
 * the last good one otherwise; it also drops re-reads of unchanged files.
 */
class CheckedFileProvider implements CertificateProvider {
  readonly #inner: grpc.experimental.FileWatcherCertificateProvider;
  readonly #withCa: boolean;
  readonly #identityListeners = new Set<IdentityListener>();
  readonly #caListeners = new Set<CaListener>();
  readonly #onChange: (event: TlsReloadEvent) => void;
  #current: Material;
  #read: WatcherRead = {};
  #settling = false;
  #subscribed = false;

  constructor(files: XdsTlsFiles, initial: Material, onChange: (event: TlsReloadEvent) => void) {
    this.#current = initial;
    this.#withCa = files.clientCaFile !== undefined;
    this.#onChange = onChange;
    this.#inner = new grpc.experimental.FileWatcherCertificateProvider({
      certificateFile: files.certFile,
      privateKeyFile: files.keyFile,
      ...(files.clientCaFile ? { caCertificateFile: files.clientCaFile } : {}),
      refreshIntervalMs: files.refreshMs ?? 60_000,
    });
  }

  get current(): Material {
    return this.#current;
  }

  readonly #onIdentity: IdentityListener = (update) => this.#collect({ identity: update });
  readonly #onCa: CaListener = (update) => this.#collect({ ca: update });

  /** The watcher reports identity and CA one after the other in one turn: judge them together. */
  #collect(part: WatcherRead): void {
    this.#read = { ...this.#read, ...part };
    if (this.#settling) return;
    this.#settling = true;
    queueMicrotask(() => {
      this.#settling = false;
      const { identity, ca } = this.#read;
      if (identity === undefined || (this.#withCa && ca === undefined)) return;
      if (!identity || (this.#withCa && !ca)) return this.#onChange({ kind: 'kept', reason: 'a certificate file could not be read' });
      const next: Material = { cert: identity.certificate, key: identity.privateKey, ...(ca ? { ca: ca.caCertificate } : {}) };
      if (same(next, this.#current)) return;
      try {
        check(next);
      } catch (error) {
        return this.#onChange({ kind: 'kept', reason: (error as Error).message });
      }
      this.#current = next;
      for (const listener of this.#identityListeners) listener({ certificate: next.cert, privateKey: next.key });
      if (next.ca) for (const listener of this.#caListeners) listener({ caCertificate: next.ca });
      this.#onChange({ kind: 'reloaded', certificate: certificateInfo(next.cert) });
    });
  }

  #sync(): void {
    const wanted = this.#identityListeners.size + this.#caListeners.size > 0;
    if (wanted === this.#subscribed) return;
    this.#subscribed = wanted;
    if (wanted) {
      this.#inner.addIdentityCertificateListener(this.#onIdentity);
      if (this.#withCa) this.#inner.addCaCertificateListener(this.#onCa);
    } else {
      this.#inner.removeIdentityCertificateListener(this.#onIdentity);
      this.#inner.removeCaCertificateListener(this.#onCa);
    }
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    this.#sync();
    const { cert, key } = this.#current;
    process.nextTick(listener, { certificate: cert, privateKey: key });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
    this.#sync();
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    this.#sync();
    const { ca } = this.#current;
    if (ca) process.nextTick(listener, { caCertificate: ca });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
    this.#sync();
  }

  /** Stops the watcher's timer whatever grpc-js still holds. */
  close(): void {
    this.#identityListeners.clear();
    this.#caListeners.clear();
    this.#sync();
  }
}

export type TlsReloadEvent = { kind: 'reloaded'; certificate: CertificateInfo } | { kind: 'kept'; reason: string };

export interface XdsTls {
  credentials: grpc.ServerCredentials;
  /** The certificate new connections get now. */
  certificate(): CertificateInfo;
  clientCertificateRequired: boolean;
  /** Stops re-reading the files. */
  close(): void;
}

/**
 * Server credentials for the xDS port from certificate files, re-read every refreshMs: a connection made
 * after a rotation gets the new certificate, connections already open keep theirs. With clientCaFile, the
 * TLS handshake fails for a client without a certificate that CA signed.
 */
export function xdsTlsCredentials(files: XdsTlsFiles, onChange: (event: TlsReloadEvent) => void = () => {}): XdsTls {
  const provider = new CheckedFileProvider(files, readTlsFilesOrThrow(files), onChange);
  const withCa = files.clientCaFile !== undefined;
  // grpc-js 1.14's declaration names the first parameter caCertificateProvider, but the code uses the first
  // as the identity (certificate and key) provider and the second as the CA provider.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, withCa ? provider : null, withCa);
  return {
    credentials,
    certificate: () => certificateInfo(provider.current.cert),
    clientCertificateRequired: withCa,
    close: () => provider.close(),
  };
}

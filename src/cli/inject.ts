import { readFile } from 'node:fs/promises';
import {
  ADMIN_PORT,
  DEFAULT_CONCURRENCY,
  DEFAULT_ENVOY_IMAGE,
  DEFAULT_LIMITS,
  DEFAULT_PROXY_PORT,
  DEFAULT_REQUESTS,
  DEFAULT_XDS_ADDRESS,
  type InjectOptions,
  STATUS_PORT,
  parsePort,
  parsePositiveInteger,
  parseQuantity,
  parseSidecarMode,
  parseXdsAddress,
} from '../inject/options.ts';
import { YamlStreamError, injectStream } from '../inject/stream.ts';
import { DEFAULT_XDS_TLS_SECRET, XDS_TLS_MOUNT_PATH } from '../inject/xds-tls.ts';
import { UsageError, parseCommandArgs } from './usage.ts';

const HELP = `Usage: infermesh inject -f FILE|- [options] > injected.yaml

Adds the infermesh Envoy sidecar to every Deployment, StatefulSet, DaemonSet, ReplicaSet,
ReplicationController, Job, CronJob and Pod in a multi-document YAML stream (also inside a kind: List) and
prints the stream. Everything else is
copied byte for byte; running it again on its own output changes nothing. Appends one ConfigMap
infermesh-envoy-bootstrap (the Envoy bootstrap) per namespace of an injected workload, unless the stream
already holds it. App containers get INFERMESH_PROXY=http://127.0.0.1:PORT: send inference requests there
with an x-model header. Workloads annotated infermesh.io/inject: "false" are left alone.

  infermesh inject -f app.yaml | kubectl apply -f -
  kubectl get deploy web -o yaml | infermesh inject -f - | kubectl apply -f -

Options:
  -f, --filename FILE|-       the YAML to inject; - reads standard input (required)
  --xds-address HOST:PORT     infermesh's ADS address, written into the bootstrap ConfigMap
                              (default ${DEFAULT_XDS_ADDRESS})
  --image IMAGE               the sidecar's Envoy image (default ${DEFAULT_ENVOY_IMAGE})
  --proxy-port PORT           the sidecar listener infermesh pushes: the same as serve's --sidecar-port
                              (default ${DEFAULT_PROXY_PORT})
  --sidecar-mode MODE         native (default): an init container with restartPolicy Always, Kubernetes
                              1.29+; starts before the app, stops after it, lets Jobs complete.
                              container: an ordinary container, for older clusters
  --concurrency N             Envoy worker threads (default ${DEFAULT_CONCURRENCY})
  --cpu-request Q             the sidecar's CPU request (default ${DEFAULT_REQUESTS.cpu})
  --memory-request Q          the sidecar's memory request (default ${DEFAULT_REQUESTS.memory})
  --cpu-limit Q               the sidecar's CPU limit (default ${DEFAULT_LIMITS.cpu})
  --memory-limit Q            the sidecar's memory limit (default ${DEFAULT_LIMITS.memory})
  --xds-tls-secret NAME       talk mTLS to the control plane (serve --xds-tls-*): mount Secret NAME
                              (keys tls.crt and tls.key: the sidecar's certificate; ca.crt: the CA of
                              the control plane's certificate; e.g. ${DEFAULT_XDS_TLS_SECRET}, as
                              cert-manager writes it) at ${XDS_TLS_MOUNT_PATH} in every sidecar. Envoy
                              reads the files again when the Secret changes (SDS files in the ConfigMap).
  --xds-tls-server-name NAME  the name the control plane's certificate must carry, and the SNI
                              (default: the host of --xds-address)

Exit 0 on success, 1 when the input cannot be read or is not valid YAML (the error names the document and
line; nothing is printed), 2 on usage errors. Warnings (e.g. an app container using a sidecar port) go to
stderr.
`;

const OPTIONS = {
  filename: { type: 'string', short: 'f' },
  'xds-address': { type: 'string' },
  image: { type: 'string' },
  'proxy-port': { type: 'string' },
  'sidecar-mode': { type: 'string' },
  concurrency: { type: 'string' },
  'cpu-request': { type: 'string' },
  'memory-request': { type: 'string' },
  'cpu-limit': { type: 'string' },
  'memory-limit': { type: 'string' },
  'xds-tls-secret': { type: 'string' },
  'xds-tls-server-name': { type: 'string' },
} as const;

type Flags = Partial<Record<keyof typeof OPTIONS, string>>;

const projectFile = (relative: string) => new URL(`../../${relative}`, import.meta.url);

const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function xdsTlsFromFlags(flags: Flags, host: string): Pick<InjectOptions, 'xdsTls'> {
  const secret = flags['xds-tls-secret'];
  const serverName = flags['xds-tls-server-name'];
  if (secret === undefined) {
    if (serverName !== undefined) throw new Error('--xds-tls-server-name needs --xds-tls-secret');
    return {};
  }
  if (!SECRET_NAME.test(secret)) throw new Error(`--xds-tls-secret "${secret}" is not a Secret name (lowercase letters, digits, - and .)`);
  if (serverName !== undefined && !/^[A-Za-z0-9.:-]+$/.test(serverName)) throw new Error(`--xds-tls-server-name "${serverName}" must be a DNS name or an IP address`);
  return { xdsTls: { secret, serverName: serverName ?? host } };
}

/** The settings from the flags; a bad value is a usage error. */
function optionsFromFlags(flags: Flags, bootstrapTemplate: string, version: string): InjectOptions {
  try {
    const proxyPort = parsePort('--proxy-port', flags['proxy-port'] ?? String(DEFAULT_PROXY_PORT));
    if (proxyPort === STATUS_PORT || proxyPort === ADMIN_PORT) {
      throw new Error(`--proxy-port must not be ${STATUS_PORT} or ${ADMIN_PORT}: the sidecar uses those itself`);
    }
    const image = flags.image ?? DEFAULT_ENVOY_IMAGE;
    if (image.trim() === '') throw new Error('--image must not be empty');
    const xdsAddress = parseXdsAddress(flags['xds-address'] ?? DEFAULT_XDS_ADDRESS);
    return {
      xdsAddress,
      ...xdsTlsFromFlags(flags, xdsAddress.host),
      image,
      proxyPort,
      concurrency: parsePositiveInteger('--concurrency', flags.concurrency ?? String(DEFAULT_CONCURRENCY)),
      sidecarMode: parseSidecarMode(flags['sidecar-mode'] ?? 'native'),
      requests: {
        cpu: parseQuantity('--cpu-request', flags['cpu-request'] ?? DEFAULT_REQUESTS.cpu),
        memory: parseQuantity('--memory-request', flags['memory-request'] ?? DEFAULT_REQUESTS.memory),
      },
      limits: {
        cpu: parseQuantity('--cpu-limit', flags['cpu-limit'] ?? DEFAULT_LIMITS.cpu),
        memory: parseQuantity('--memory-limit', flags['memory-limit'] ?? DEFAULT_LIMITS.memory),
      },
      version,
      bootstrapTemplate,
    };
  } catch (error) {
    throw new UsageError((error as Error).message, HELP);
  }
}

async function readInput(filename: string, stdin: NodeJS.ReadableStream): Promise<string> {
  if (filename !== '-') return readFile(filename, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function run(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream, stdin: NodeJS.ReadableStream): Promise<number> {
  const { values } = parseCommandArgs(argv, OPTIONS, HELP);
  if (values.help) {
    out.write(HELP);
    return 0;
  }
  if (values.filename === undefined) throw new UsageError('-f FILE is required (use -f - to read standard input)', HELP);
  const [template, packageJson] = await Promise.all([
    readFile(projectFile('envoy/bootstrap.yaml'), 'utf8'),
    readFile(projectFile('package.json'), 'utf8'),
  ]);
  const options = optionsFromFlags(values, template, (JSON.parse(packageJson) as { version: string }).version);
  let input: string;
  try {
    input = await readInput(values.filename, stdin);
  } catch (error) {
    err.write(`infermesh inject: cannot read ${values.filename}: ${(error as Error).message}\n`);
    return 1;
  }
  const result = injectStream(input, options);
  for (const warning of result.warnings) err.write(`warning: ${warning}\n`);
  if (result.injected === 0) err.write('warning: nothing injected: no Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob or Pod to inject\n');
  out.write(result.output);
  return 0;
}

/** `infermesh inject`: prints the input with the sidecar added. Exit 0 ok, 1 bad input, 2 usage error. */
export async function injectCommand(
  argv: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<number> {
  try {
    return await run(argv, out, err, stdin);
  } catch (error) {
    if (error instanceof UsageError) {
      err.write(`infermesh inject: ${error.message}\n\n${error.help}`);
      return 2;
    }
    if (error instanceof YamlStreamError) {
      err.write(`infermesh inject: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

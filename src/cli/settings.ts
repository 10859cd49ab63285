import { isIP } from 'node:net';
import { DEFAULT_SETTINGS, type MeshSettings } from '../model/types.ts';

/** Flags shared by every command that renders Envoy resources. */
export const SETTINGS_OPTIONS = {
  'model-header': { type: 'string' },
  'version-header': { type: 'string' },
  'grpc-target': { type: 'string' },
  'sidecar-port': { type: 'string' },
  'sidecar-address': { type: 'string' },
  'control-plane-namespace': { type: 'string' },
  'allow-cross-namespace': { type: 'string', multiple: true },
  'body-routing-limit': { type: 'string' },
} as const;

export const SETTINGS_HELP = `  --model-header NAME     request header naming the model (default ${DEFAULT_SETTINGS.modelHeader})
  --version-header NAME   request header pinning a version (default ${DEFAULT_SETTINGS.versionHeader})
  --grpc-target NAME      name proxyless gRPC clients dial as xds:///NAME (default ${DEFAULT_SETTINGS.grpcTarget})
  --sidecar-port PORT     port of the sidecar listener (default ${DEFAULT_SETTINGS.sidecarListenerPort})
  --sidecar-address IP    address the sidecar listener binds (default ${DEFAULT_SETTINGS.sidecarListenerAddress}; 127.0.0.1 keeps it on loopback)
  --control-plane-namespace NS
                          where cluster-wide defaults ConfigMaps live (default $POD_NAMESPACE, else ${DEFAULT_SETTINGS.controlPlaneNamespace})
  --allow-cross-namespace NS
                          let policies route to Services in NS besides their own namespace (repeatable)
  --body-routing-limit SIZE
                          largest JSON body a sidecar reads to route by its "model" (modelFromBody), in
                          bytes or with KiB / MiB (default 1MiB, at most 64MiB); larger ones get 413
`;

const HEADER_NAME = /^[a-z0-9][a-z0-9-]*$/;

interface SettingsFlags {
  'model-header'?: string;
  'version-header'?: string;
  'grpc-target'?: string;
  'sidecar-port'?: string;
  'sidecar-address'?: string;
  'control-plane-namespace'?: string;
  'allow-cross-namespace'?: string[];
  'body-routing-limit'?: string;
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function namespaceFlag(flag: string, value: string): string {
  if (!NAMESPACE.test(value)) throw new Error(`${flag} "${value}" is not a namespace name (lowercase letters, digits and -)`);
  return value;
}

export function settingsFromFlags(values: SettingsFlags, env: NodeJS.ProcessEnv = process.env): MeshSettings {
  const settings: MeshSettings = {
    ...DEFAULT_SETTINGS,
    controlPlaneNamespace: namespaceFlag('--control-plane-namespace', values['control-plane-namespace'] ?? env['POD_NAMESPACE'] ?? DEFAULT_SETTINGS.controlPlaneNamespace),
    crossNamespaceTargets: (values['allow-cross-namespace'] ?? []).map((ns) => namespaceFlag('--allow-cross-namespace', ns)),
    modelHeader: (values['model-header'] ?? DEFAULT_SETTINGS.modelHeader).toLowerCase(),
    versionHeader: (values['version-header'] ?? DEFAULT_SETTINGS.versionHeader).toLowerCase(),
    grpcTarget: values['grpc-target'] ?? DEFAULT_SETTINGS.grpcTarget,
  };
  for (const [flag, value] of [['--model-header', settings.modelHeader], ['--version-header', settings.versionHeader]] as const) {
    if (!HEADER_NAME.test(value)) throw new Error(`${flag} "${value}" is not a valid header name: use lowercase letters, digits and dashes, e.g. x-model`);
  }
  if (settings.modelHeader === settings.versionHeader) throw new Error('--model-header and --version-header must differ');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(settings.grpcTarget)) throw new Error(`--grpc-target "${settings.grpcTarget}" must be letters, digits, ".", "_" or "-"`);
  if (values['sidecar-port'] !== undefined) {
    const port = Number(values['sidecar-port']);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--sidecar-port "${values['sidecar-port']}" must be a port number 1-65535`);
    settings.sidecarListenerPort = port;
  }
  if (values['sidecar-address'] !== undefined) {
    if (isIP(values['sidecar-address']) === 0) throw new Error(`--sidecar-address "${values['sidecar-address']}" must be an IPv4 or IPv6 address, e.g. 0.0.0.0 or 127.0.0.1`);
    settings.sidecarListenerAddress = values['sidecar-address'];
  }
  if (values['body-routing-limit'] !== undefined) settings.bodyRoutingLimitBytes = bodyRoutingLimit(values['body-routing-limit']);
  return settings;
}

const SIZE_UNITS: Record<string, number> = { '': 1, KiB: 1024, MiB: 1024 * 1024 };
const MIN_BODY_ROUTING_LIMIT = 1024;
const MAX_BODY_ROUTING_LIMIT = 64 * 1024 * 1024;

/** A size in bytes, or whole KiB / MiB: 1048576, 512KiB, 8MiB. */
function bodyRoutingLimit(text: string): number {
  const match = /^(\d{1,9})(KiB|MiB)?$/.exec(text);
  const bytes = match ? Number(match[1]) * (SIZE_UNITS[match[2] ?? ''] ?? 1) : NaN;
  if (!(bytes >= MIN_BODY_ROUTING_LIMIT && bytes <= MAX_BODY_ROUTING_LIMIT)) {
    throw new Error(`--body-routing-limit "${text}" must be a size from 1KiB to 64MiB, in bytes or with KiB or MiB, e.g. 8MiB`);
  }
  return bytes;
}

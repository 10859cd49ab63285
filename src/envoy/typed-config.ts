import type { AnyExtension } from '@grpc/proto-loader';
import type {
  EarlyHeaderMutation,
  ExternalProcessor,
  ExtProcPerRoute,
  HTTPFault,
  OnDemand,
  GrpcStatsFilterConfig,
  HttpConnectionManager,
  LocalRateLimit,
  Lua,
  LuaPerRoute,
  RouteFilterConfig,
  PreviousHostsPredicate,
  Router,
  StdoutAccessLog,
  UpstreamHttpProtocolOptions,
} from './messages.ts';
import { EXTENSION_TYPES } from './type-urls.ts';

/** The message each extension type URL holds, so a typed_config's payload is checked like any message. */
interface ExtensionMessages {
  httpConnectionManager: HttpConnectionManager;
  router: Router;
  fault: HTTPFault;
  httpProtocolOptions: UpstreamHttpProtocolOptions;
  previousHosts: PreviousHostsPredicate;
  stdoutAccessLog: StdoutAccessLog;
  onDemand: OnDemand;
  grpcStats: GrpcStatsFilterConfig;
  earlyHeaderMutation: EarlyHeaderMutation;
  localRateLimit: LocalRateLimit;
  routeFilterConfig: RouteFilterConfig;
  extProc: ExternalProcessor;
  extProcPerRoute: ExtProcPerRoute;
  lua: Lua;
  luaPerRoute: LuaPerRoute;
}

/** A google.protobuf.Any holding `message`, in the `{'@type': url, ...fields}` form protobufjs reads. */
export function typedConfig<K extends keyof typeof EXTENSION_TYPES & keyof ExtensionMessages>(kind: K, message: ExtensionMessages[K]): AnyExtension {
  return { '@type': EXTENSION_TYPES[kind], ...message };
}

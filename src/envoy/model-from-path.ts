import type { MeshSettings } from '../model/types.ts';
import { EARLY_HEADER_MUTATION } from './names.ts';
import type { TypedExtensionConfig } from './messages.ts';
import { typedConfig } from './typed-config.ts';

/**
 * The model name in a TF Serving (`/v1/models/M...`) or Triton / KServe v2 (`/v2/models/M...`) REST path:
 * what a caller without the model header names. A name runs to the next `/` or `:` (`M:predict`,
 * `M/versions/2`, `M/infer`), so a model whose name holds one of those needs the header.
 */
export const MODEL_IN_PATH = '/v[12]/models/([^/:?]+)([:/?].*)?';

/**
 * An early header mutation (it runs before the scope is chosen) that sets the model header from the REST
 * path when the caller did not send one; a request that has neither keeps no header and gets the "header
 * required" answer. The value is a CEL expression evaluated per request.
 */
export function modelFromPath(settings: MeshSettings): TypedExtensionConfig {
  // re.capture matches the whole path and yields the first group; on no match it yields no value, and the
  // header is not added (Envoy 1.38-1.40 alike).
  const value = `%CEL(re.capture(request.path, '${MODEL_IN_PATH}'))%`;
  return {
    name: EARLY_HEADER_MUTATION,
    typed_config: typedConfig('earlyHeaderMutation', {
      mutations: [{ append: { header: { key: settings.modelHeader, value }, append_action: 'ADD_IF_ABSENT' } }],
    }),
  };
}

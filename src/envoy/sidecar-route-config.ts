import type { MeshSettings } from '../model/types.ts';
import type { TypedExtensionConfig } from './messages.ts';
import { typedConfig } from './typed-config.ts';

/** The matcher input: the value of the model header (absent header -> no value -> on_no_match). */
export function modelHeaderInput(settings: MeshSettings): TypedExtensionConfig {
  return { name: 'model-header', typed_config: typedConfig('requestHeaderMatchInput', { header_name: settings.modelHeader }) };
}

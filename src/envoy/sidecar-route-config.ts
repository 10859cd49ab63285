import type { MeshSettings } from '../model/types.ts';
import { EXTENSION_TYPES } from './type-urls.ts';

type Json = Record<string, unknown>;

/** The matcher input: the value of the model header (absent header -> no value -> on_no_match). */
export function modelHeaderInput(settings: MeshSettings): Json {
  return {
    name: 'model-header',
    typed_config: { '@type': EXTENSION_TYPES.requestHeaderMatchInput, header_name: settings.modelHeader },
  };
}

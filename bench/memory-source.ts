import type { WorldSource } from '../src/controller/controller.ts';
import type { SourceWorld } from '../src/sources/types.ts';

/** A source the benchmark edits in memory: `change()` is what a watch event is to the real sources. */
export class MemorySource implements WorldSource {
  world: SourceWorld;
  #onChange: (() => void) | undefined;

  constructor(world: SourceWorld) {
    this.world = world;
  }

  async read(): Promise<SourceWorld> {
    return { ...this.world, configMaps: [...this.world.configMaps], endpointSlices: [...this.world.endpointSlices] };
  }

  watch(onChange: () => void): void {
    this.#onChange = onChange;
  }

  change(edit: (world: SourceWorld) => void): void {
    edit(this.world);
    this.#onChange?.();
  }
}

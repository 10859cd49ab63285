import { setTimeout as delay } from 'node:timers/promises';

/** Moves the cursor home and clears the screen (ANSI); used only when the output is a terminal. */
export const CLEAR_SCREEN = '\x1b[H\x1b[2J';

export interface WatchOptions {
  intervalMs: number;
  /** Produces one frame's text; '' draws nothing this time (the caller reported a failure elsewhere). */
  frame: () => Promise<string>;
  write: (text: string) => void;
  /** Clear the screen before each frame (a TTY); otherwise frames follow each other after `separator`. */
  clear: boolean;
  separator: string;
  /** Aborted by SIGINT in the CLI, by the test after N frames. */
  stop: AbortSignal;
  /** Waits between frames; resolves early when `signal` aborts. Injected by tests. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

async function sleepUnlessStopped(ms: number, signal: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch(() => undefined);
}

function stopped(signal: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
}

/** Draws frames every interval until `stop` aborts; returns how many were drawn. */
export async function watchLoop(options: WatchOptions): Promise<number> {
  const sleep = options.sleep ?? sleepUnlessStopped;
  const stop = stopped(options.stop);
  let frames = 0;
  while (!options.stop.aborted) {
    // A frame still being fetched when the user presses Ctrl-C is dropped rather than waited for.
    const text = await Promise.race([options.frame(), stop]);
    if (text === undefined) break;
    if (text === '') {
      await sleep(options.intervalMs, options.stop);
      continue;
    }
    const prefix = options.clear ? CLEAR_SCREEN : frames > 0 ? options.separator : '';
    options.write(prefix + text);
    frames += 1;
    await sleep(options.intervalMs, options.stop);
  }
  return frames;
}

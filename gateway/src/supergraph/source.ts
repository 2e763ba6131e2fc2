import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Logger } from '@shop/service-kit';

export interface SupergraphSource {
  /** The supergraph as read at start. */
  readonly sdl: string;
  close(): void;
}

/**
 * The supergraph from its committed file; with `watch` (development), each change is handed to
 * `onChange` (a failed reload keeps the previous supergraph, loudly).
 */
export async function readSupergraph(path: string, opts: { watch: boolean; logger: Logger; onChange: (sdl: string) => void }): Promise<SupergraphSource> {
  let current = await readFile(path, 'utf8');
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (opts.watch) {
    watcher = watch(path, () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        readFile(path, 'utf8')
          .then((next) => {
            if (next === current || next.trim() === '') return;
            opts.onChange(next);
            current = next;
            opts.logger.info({ path }, 'supergraph reloaded');
          })
          .catch((err: unknown) => opts.logger.error({ err: (err as Error).message }, 'supergraph reload failed; keeping the previous one'));
      }, 100);
    });
  }
  return {
    sdl: current,
    close: () => {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}

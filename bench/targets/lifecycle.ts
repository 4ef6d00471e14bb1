/** What every benchmark target does on SIGTERM/SIGINT: close it all, remove its data, exit. */
import { rmSync } from 'node:fs';

type Closable = { close(): Promise<void> };

/** Closes `parts` in order (the service's app first, the bus last), then removes `dir`. */
export function stopOnSignal(dir: string, parts: readonly Closable[]): void {
  const stop = (): void =>
    void (async () => {
      for (const part of parts) await part.close();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    })();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

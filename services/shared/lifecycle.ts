// Graceful shutdown: on SIGTERM/SIGINT run the steps in the order given (reverse of start),
// each guarded so one failing step does not skip the rest, then exit. A second signal, or a
// hard deadline, exits at once.
import type { Logger } from './logger.js';

export type ShutdownStep = [name: string, run: () => Promise<unknown> | unknown];

export function onShutdown(log: Logger, steps: ShutdownStep[], deadlineMs = 30_000): (reason: string) => Promise<void> {
  let running: Promise<void> | null = null;
  const shutdown = (reason: string): Promise<void> => {
    if (running) return running;
    log.info({ reason }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error({ deadlineMs }, 'shutdown deadline passed; exiting');
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    running = (async () => {
      for (const [name, run] of steps) {
        try {
          await run();
        } catch (err) {
          log.error({ err, step: name }, 'shutdown step failed');
        }
      }
      log.info('shutdown complete');
      log.flush?.();
      clearTimeout(deadline);
      // Let the logger flush before exiting.
      setTimeout(() => process.exit(0), 20).unref();
    })();
    return running;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (running) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      void shutdown(signal);
    });
  }
  return shutdown;
}

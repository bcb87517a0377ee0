/**
 * SIGINT (PM2) and SIGTERM (Kubernetes) stop the process gracefully: stop accepting,
 * let in-flight batches finish, flush the producer. A second signal, or the drain
 * taking too long, exits at once.
 */
import type { Logger } from 'pino';

export const SHUTDOWN_GRACE_MS = 20_000;

export function installShutdown(log: Logger, drain: () => Promise<void>): void {
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    draining = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error('drain took too long: exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    timer.unref();
    drain().then(
      () => {
        log.info('drained; bye');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

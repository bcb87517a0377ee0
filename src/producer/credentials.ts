/**
 * The SASL password follows its file. Kubernetes updates a mounted Secret by swapping a symlink,
 * which inotify-based watchers miss; fs.watchFile polls the path's stat (every 2 s), which sees it.
 * SIGHUP reads it at once. A changed password goes to librdkafka for its next authentication: a
 * collector started with a wrong one (its batches spilled, health degraded) recovers when the Secret
 * is fixed, and replays what it spilled, without a restart.
 */
import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { EventProducer } from './producer.js';
import { readSecretFile } from './security.js';

const POLL_MS = 2000;

export class SaslPasswordFile {
  private last: string | null = null;
  private readonly onHup = () => this.reload('SIGHUP');
  private readonly onChange = () => this.reload('file changed');

  constructor(
    private readonly config: Readonly<Config>,
    private readonly producer: EventProducer,
    private readonly log: Logger,
  ) {}

  /** Whether this configuration has a password file to follow. */
  static applies(c: Readonly<Config>): boolean {
    return c.KAFKA_SECURITY_PROTOCOL.startsWith('sasl_') && c.KAFKA_SASL_PASSWORD_FILE !== '' &&
      (c.KAFKA_SASL_MECHANISM === 'PLAIN' || c.KAFKA_SASL_MECHANISM.startsWith('SCRAM'));
  }

  start(): void {
    try {
      this.last = readSecretFile(this.config.KAFKA_SASL_PASSWORD_FILE);
    } catch {
      this.last = null;
    }
    watchFile(this.config.KAFKA_SASL_PASSWORD_FILE, { interval: POLL_MS, persistent: false }, this.onChange);
    process.on('SIGHUP', this.onHup);
  }

  stop(): void {
    unwatchFile(this.config.KAFKA_SASL_PASSWORD_FILE, this.onChange);
    process.off('SIGHUP', this.onHup);
  }

  private reload(reason: string): void {
    const file = this.config.KAFKA_SASL_PASSWORD_FILE;
    let password: string;
    try {
      password = readSecretFile(file);
    } catch (err) {
      // Mid-swap, or removed: keep the password in use and try again at the next change.
      this.log.warn({ file, err: (err as NodeJS.ErrnoException).code ?? (err as Error).message }, 'kafka SASL password file cannot be read; the password in use is kept');
      return;
    }
    if (password === this.last) return;
    try {
      this.producer.setSaslCredentials(this.config.KAFKA_SASL_USERNAME, password);
      this.last = password;
      this.log.info({ file, reason, user: this.config.KAFKA_SASL_USERNAME }, 'kafka SASL password reloaded: used from the next authentication');
    } catch (err) {
      this.log.error({ file, err: (err as Error).message }, 'kafka SASL password reload refused by librdkafka; the password in use is kept');
    }
  }
}

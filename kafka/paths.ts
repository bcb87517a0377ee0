// Repo-relative locations shared by the broker harness, the CLI and the tap setup hooks.
// Dependency-free on purpose: test helpers import it without loading node-rdkafka.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Walks up from this module (kafka/ when run from source, dist/kafka/ when compiled) to the dir holding package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'kafka', 'pom.xml'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`repoRoot: no package.json + kafka/pom.xml above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/**
 * State file of the broker shared by the whole tap run (written by test/setup/broker-up).
 * KAFKA_TEST_STATE overrides it so two test runs in one checkout can each have their own broker.
 */
export function testBrokerStateFile(): string {
  return process.env.KAFKA_TEST_STATE || join(repoRoot(), '.kafka', 'test-broker.json');
}

// Cluster ids the way Kafka makes them (org.apache.kafka.common.Uuid.randomUuid): 16 random bytes in
// URL-safe base64 without padding, drawn again when the text begins with '-' (Kafka's own command-line
// parser reads such an id as an option: "argument --cluster-id/-t: expected one argument", 1 draw in 64)
// or when it is one of Kafka's reserved ids (all zero; the metadata topic's id, 0…01).
import { randomBytes } from 'node:crypto';

const RESERVED = new Set([Buffer.alloc(16).toString('base64url'), Buffer.from([...Array(15).fill(0), 1]).toString('base64url')]);

/** A valid KRaft cluster id. `draw` is the byte source (tests pass a fixed sequence). */
export function newClusterId(draw: (n: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = draw(16).toString('base64url');
    if (!id.startsWith('-') && !RESERVED.has(id)) return id;
  }
}

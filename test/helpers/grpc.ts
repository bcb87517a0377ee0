/**
 * A gRPC client of the collector (grpc-js, the proto in proto/), helpers to stream batches, and
 * grpcurl (Go, built into .tools/bin by .ci/run) for calls by reflection only.
 */
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { packageDefinition, SERVICE_NAME } from '../../src/grpc/contract.js';
import type { CollectResponse } from '../../src/grpc/ingest.js';

export type CollectorClient = grpc.Client & {
  Collect(req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: CollectResponse) => void): grpc.ClientUnaryCall;
  CollectStream(md?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientDuplexStream<object, CollectResponse>;
};

export function grpcClient(port: number, creds = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): CollectorClient {
  const Ctor = grpc.makeClientConstructor(packageDefinition[SERVICE_NAME] as grpc.ServiceDefinition, SERVICE_NAME);
  return new Ctor(`127.0.0.1:${port}`, creds, options) as unknown as CollectorClient;
}

export function collect(client: CollectorClient, req: object, deadlineMs = 60_000): Promise<{ err: grpc.ServiceError | null; res: CollectResponse | undefined }> {
  return new Promise((resolve) => {
    client.Collect(req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => resolve({ err, res }));
  });
}

/** A typed Event message (proto JSON names) */
export function typedEvent(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: randomUUID(),
    learner_id: `learner_${Math.floor(Math.random() * 50)}`,
    tenant_id: 'tenant_alpha',
    event_type: 'EVENT_TYPE_INTERACTION',
    priority: 'PRIORITY_HIGH',
    timestamp: { seconds: 1705314600, nanos: 123_000_000 },
    source_service: 'game-server',
    event_data: { fields: { action: { stringValue: 'click' }, score: { numberValue: 42 }, ok: { boolValue: true } } },
    metadata: { fields: { session_id: { stringValue: 'sess-1' } } },
    ...over,
  };
}

/** The JSON the HTTP path gets for typedEvent(): what the collector must write for both. */
export function eventJson(ev: Record<string, unknown>): Record<string, unknown> {
  return {
    event_id: ev.event_id,
    learner_id: ev.learner_id,
    tenant_id: ev.tenant_id,
    event_type: 'interaction',
    priority: 'high',
    timestamp: '2024-01-15T10:30:00.123Z',
    source_service: ev.source_service,
    event_data: { action: 'click', score: 42, ok: true },
    metadata: { session_id: 'sess-1' },
  };
}

export function batchOf(n: number, batchId: string = randomUUID()): { batch_id: string; events: { event: Record<string, unknown> }[] } {
  return { batch_id: batchId, events: Array.from({ length: n }, () => ({ event: typedEvent() })) };
}

export function idsOf(batch: { events: { event?: Record<string, unknown> }[] }): string[] {
  return batch.events.map((e) => e.event!.event_id as string);
}

/** Reads a metric's value (summed over label sets matching `labels`) from /metrics. */
export async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** grpcurl of this checkout (dist/test/helpers → .tools/bin). */
export const GRPCURL = fileURLToPath(new URL('../../../.tools/bin/grpcurl', import.meta.url));

export function grpcurl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile(GRPCURL, args, { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) p.stdin!.end(input);
  });
}

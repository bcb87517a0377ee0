/**
 * Valid events of the spec's shape, for POST /api/v1/test/events, the benchmarks and
 * the tests. Deterministic given a seed so that runs can be compared.
 */
import { randomUUID } from 'node:crypto';
import { EVENT_TYPES } from '../schema/event.js';

export interface SyntheticOptions {
  learners?: number;
  tenant?: string;
  source?: string;
}

export function syntheticEvent(i: number, opts: SyntheticOptions = {}): Record<string, unknown> {
  const learners = opts.learners ?? 1000;
  return {
    event_id: randomUUID(),
    learner_id: `learner_${String(i % learners).padStart(4, '0')}`,
    tenant_id: opts.tenant ?? 'tenant_alpha',
    event_type: EVENT_TYPES[i % EVENT_TYPES.length],
    priority: 'medium',
    timestamp: new Date().toISOString(),
    source_service: opts.source ?? 'learning-app',
    event_data: syntheticPayload(i),
    metadata: { session_id: `session_${i % 97}`, additional_context: 'synthetic' },
  };
}

/** A payload of the event's type that the shipped example schemas (schemas/<type>/1.json) accept. */
function syntheticPayload(i: number): Record<string, unknown> {
  switch (EVENT_TYPES[i % EVENT_TYPES.length]) {
    case 'interaction':
      return { action: 'click', element: 'next_button', position: i, custom_fields: 'lorem ipsum dolor sit amet' };
    case 'progress':
      return { lesson: `lesson-${i % 40}`, percent: i % 101, completed: i % 101 === 100 };
    case 'assessment':
      return { assessment_id: `quiz-${i % 25}`, score: i % 11, max_score: 10 };
    case 'error':
      return { code: 'E_TIMEOUT', message: 'video segment took too long to load', severity: 'warning' };
    default:
      return { component: 'sync', status: 'ok', detail: { position: i } };
  }
}

export function syntheticBatch(count: number, opts: SyntheticOptions = {}, start = 0): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) out.push(syntheticEvent(start + i, opts));
  return out;
}

/**
 * Compiled TypeBox validation of one event, and the translation of TypeBox's errors
 * into the stable per-event error codes clients and DLQ consumers see.
 * Check() is the hot path; Errors() runs only for events that fail.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { EventSchema } from '../schema/event.js';

export type EventErrorCode =
  | 'missing_field'
  | 'wrong_type'
  | 'invalid_format'
  | 'invalid_value'
  | 'invalid_length'
  | 'not_an_object'
  | 'event_too_large'
  | 'too_deep'
  | 'too_many_fields'
  | 'inexact_number'
  | 'tenant_forbidden'
  | 'unexpected_field'
  | 'unknown_schema_version'
  | 'invalid';

export interface EventError {
  code: EventErrorCode;
  /** JSON pointer into the event, e.g. /event_type */
  path: string;
  message: string;
}

const compiled = TypeCompiler.Compile(EventSchema);
const MAX_ERRORS_PER_EVENT = 10;

export function isValidEvent(value: unknown): boolean {
  return compiled.Check(value);
}

function codeOf(e: ValueError): EventErrorCode {
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'missing_field';
    case ValueErrorType.StringFormat:
    case ValueErrorType.StringFormatUnknown:
      return 'invalid_format';
    case ValueErrorType.Union:
    case ValueErrorType.Literal:
      return 'invalid_value';
    case ValueErrorType.StringMinLength:
    case ValueErrorType.StringMaxLength:
      return 'invalid_length';
    case ValueErrorType.ObjectMaxProperties:
      return 'too_many_fields';
    case ValueErrorType.String:
    case ValueErrorType.Object:
    case ValueErrorType.Number:
    case ValueErrorType.Integer:
    case ValueErrorType.Boolean:
    case ValueErrorType.Array:
      return 'wrong_type';
    default:
      return 'invalid';
  }
}

export function eventErrors(value: unknown): EventError[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ code: 'not_an_object', path: '', message: 'An event must be a JSON object' }];
  }
  const out: EventError[] = [];
  const seen = new Set<string>();
  for (const e of compiled.Errors(value)) {
    // A missing or mistyped field reports once per path: the first error is the useful one.
    if (seen.has(e.path)) continue;
    seen.add(e.path);
    out.push({ code: codeOf(e), path: e.path, message: e.message });
    if (out.length >= MAX_ERRORS_PER_EVENT) break;
  }
  if (out.length === 0) out.push({ code: 'invalid', path: '', message: 'Event failed validation' });
  return out;
}

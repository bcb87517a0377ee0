/**
 * Reflection over the collector's, health's and google.rpc's protos. protobufjs writes every
 * package as one file, so two definitions can each carry a different `google_protobuf.proto`
 * (the collector's: Timestamp, Struct, Duration; google.rpc's: Any, Duration): reflection must
 * serve one file with all of them, or a reference to google.protobuf.Any is unresolvable —
 * @grpc/reflection then writes "Could not find file associated with reference" to stderr at every
 * start, and reflection clients cannot resolve google.rpc.Status.
 */
import t from 'tap';
import { createRequire } from 'node:module';
import { reflectedDefinitions, reflectionService, withImports } from '../../src/grpc/reflection.js';

interface Message { name?: string }
interface FileDescriptor { name?: string; package?: string; dependency?: string[]; messageType?: Message[] }
const { FileDescriptorProto } = createRequire(import.meta.url)('protobufjs/ext/descriptor') as {
  FileDescriptorProto: { decode(b: Uint8Array): FileDescriptor };
};

/** What console.warn and process.stderr receive while fn runs. */
function stderrOf(fn: () => void): string[] {
  const out: string[] = [];
  const warn = console.warn;
  const write = process.stderr.write;
  console.warn = (...args: unknown[]) => void out.push(args.map(String).join(' '));
  process.stderr.write = ((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    console.warn = warn;
    process.stderr.write = write;
  }
  return out;
}

t.test('building reflection over every served definition writes nothing to stderr', async (t) => {
  t.same(stderrOf(() => reflectionService(reflectedDefinitions())), []);
});

t.test('files of the same name from two definitions are served as one file with the types of both', async (t) => {
  const files = new Map<string, FileDescriptor>();
  for (const def of Object.values(withImports(reflectedDefinitions()))) {
    for (const bin of (def as { fileDescriptorProtos?: Uint8Array[] }).fileDescriptorProtos ?? []) {
      const f = FileDescriptorProto.decode(bin);
      const seen = files.get(f.name!);
      if (seen) t.same(f, seen, `${f.name}: every definition serves the same file`);
      else files.set(f.name!, f);
    }
  }
  const wellKnown = files.get('google_protobuf.proto');
  const names = new Set((wellKnown?.messageType ?? []).map((m) => m.name));
  for (const type of ['Any', 'Duration', 'Timestamp', 'Struct', 'Value']) t.ok(names.has(type), `google.protobuf.${type} is served`);
  t.equal((wellKnown?.messageType ?? []).filter((m) => m.name === 'Duration').length, 1, 'a type both files declare is served once');
  t.ok(files.get('google_rpc.proto')?.dependency?.includes('google_protobuf.proto'), 'google.rpc imports the file holding Any');
});

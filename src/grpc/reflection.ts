/**
 * Server reflection over the package definitions, with a fix for proto-loader's descriptors:
 * protobufjs writes each package as one file (collector_v1.proto, google_protobuf.proto) and
 * lists no imports, so grpcurl could not resolve google.protobuf.Timestamp/Struct through
 * reflection ("cannot resolve type", grpc/grpc-node#2958). Each file's `dependency` is filled
 * in here from the types its fields and methods name, and those names are made fully qualified
 * (".google.protobuf.Timestamp", as protoc writes them), before @grpc/reflection serves them.
 * protobufjs also names a map's entry type after the field (Struct.Fields) where protoc and
 * Go's protodesc require <Field>Entry ("invalid map: incorrect implicit map entry name").
 */
import { createRequire } from 'node:module';
import * as protoLoader from '@grpc/proto-loader';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { LOADER_OPTIONS, packageDefinition, RPC_STATUS_PROTO } from './contract.js';

interface Field { typeName?: string }
interface Message { name?: string; field?: Field[]; nestedType?: Message[]; enumType?: { name?: string }[]; options?: { mapEntry?: boolean } }
interface Method { inputType?: string; outputType?: string }
interface FileDescriptor {
  name?: string;
  package?: string;
  dependency?: string[];
  messageType?: Message[];
  enumType?: { name?: string }[];
  service?: { name?: string; method?: Method[] }[];
}
interface DescriptorCodec {
  decode(b: Uint8Array): FileDescriptor;
  encode(f: FileDescriptor): { finish(): Uint8Array };
}

// protobufjs's own descriptor codec (the one proto-loader used to write them).
const { FileDescriptorProto } = createRequire(import.meta.url)('protobufjs/ext/descriptor') as { FileDescriptorProto: DescriptorCodec };

/** A type named in both files is the same type of the same package: the first one's is kept. */
function unionByName<T extends { name?: string }>(a: T[] | undefined, b: T[] | undefined): T[] {
  const names = new Set((a ?? []).map((x) => x.name));
  return [...(a ?? []), ...(b ?? []).filter((x) => !names.has(x.name))];
}

/**
 * protobufjs names a package's file after the package alone, so two definitions loaded apart each
 * carry their own `google_protobuf.proto` with the well-known types their protos used (Timestamp,
 * Struct for the collector; Any, Duration for google.rpc). Two files of one name would leave
 * reflection with one of them and the other's types unresolvable (@grpc/reflection then warns
 * on stderr, and clients cannot resolve google.rpc.Status): they are served as one file.
 */
function mergeInto(into: FileDescriptor, from: FileDescriptor): void {
  into.messageType = unionByName(into.messageType, from.messageType);
  into.enumType = unionByName(into.enumType, from.enumType);
  into.service = unionByName(into.service, from.service);
  into.dependency = [...new Set([...(into.dependency ?? []), ...(from.dependency ?? [])])];
}

export function withImports(defs: PackageDefinition): PackageDefinition {
  const files = new Map<string, FileDescriptor>();
  for (const def of Object.values(defs)) {
    for (const bin of (def as { fileDescriptorProtos?: Uint8Array[] }).fileDescriptorProtos ?? []) {
      const f = FileDescriptorProto.decode(bin);
      if (!f.name) continue;
      const seen = files.get(f.name);
      if (seen) mergeInto(seen, f);
      else files.set(f.name, f);
    }
  }
  // Map entries: Fields → FieldsEntry, and the field that names it.
  const renameEntries = (msgs: Message[] | undefined) => {
    for (const m of msgs ?? []) {
      for (const n of m.nestedType ?? []) {
        if (!n.options?.mapEntry || !n.name || n.name.endsWith('Entry')) continue;
        const old = n.name;
        n.name = `${old}Entry`;
        for (const fl of m.field ?? []) if (fl.typeName === old || fl.typeName?.endsWith(`.${m.name}.${old}`)) fl.typeName = fl.typeName.slice(0, -old.length) + n.name;
      }
      renameEntries(m.nestedType);
    }
  };
  for (const f of files.values()) renameEntries(f.messageType);
  const owner = new Map<string, string>();
  const index = (scope: string, msgs: Message[] | undefined, enums: { name?: string }[] | undefined, file: string) => {
    for (const e of enums ?? []) owner.set(`${scope}${e.name}`, file);
    for (const m of msgs ?? []) {
      owner.set(`${scope}${m.name}`, file);
      index(`${scope}${m.name}.`, m.nestedType, m.enumType, file);
    }
  };
  for (const [name, f] of files) index(f.package ? `${f.package}.` : '', f.messageType, f.enumType, name);

  const encoded = new Map<string, Uint8Array>();
  for (const [name, f] of files) {
    const pkg = f.package ?? '';
    const deps = new Set<string>(f.dependency ?? []);
    /** The fully qualified name (".pkg.Msg.Type") of a reference made in `scope`, protobuf's scoping rules; records its file. */
    const refer = (type: string | undefined, scope: string): string | undefined => {
      if (!type) return type;
      let fqn: string | undefined;
      if (type.startsWith('.')) fqn = type.slice(1);
      else {
        for (let sc = scope; ; sc = sc.includes('.') ? sc.slice(0, sc.lastIndexOf('.')) : '') {
          const candidate = sc ? `${sc}.${type}` : type;
          if (owner.has(candidate)) {
            fqn = candidate;
            break;
          }
          if (!sc) break;
        }
      }
      const file = fqn === undefined ? undefined : owner.get(fqn);
      if (file && file !== name) deps.add(file);
      return fqn === undefined ? type : `.${fqn}`;
    };
    const walk = (msgs: Message[] | undefined, scope: string) => {
      for (const m of msgs ?? []) {
        const inner = scope ? `${scope}.${m.name}` : m.name ?? '';
        for (const fl of m.field ?? []) fl.typeName = refer(fl.typeName, inner);
        walk(m.nestedType, inner);
      }
    };
    walk(f.messageType, pkg);
    for (const s of f.service ?? []) {
      for (const m of s.method ?? []) {
        m.inputType = refer(m.inputType, pkg);
        m.outputType = refer(m.outputType, pkg);
      }
    }
    f.dependency = [...deps];
    encoded.set(name, FileDescriptorProto.encode(f).finish());
  }
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(defs)) {
    const protos = (def as { fileDescriptorProtos?: Uint8Array[] }).fileDescriptorProtos;
    out[key] = protos
      ? { ...def, fileDescriptorProtos: protos.map((b) => encoded.get(FileDescriptorProto.decode(b).name ?? '') ?? b) }
      : def;
  }
  return out as PackageDefinition;
}

/**
 * What reflection describes: the collector's and health's protos, and google.rpc's too, for
 * reflection clients that resolve error details by symbol (grpcurl 1.9.3 does not: it prints
 * them as raw bytes, fullstorydev/grpcurl#547).
 */
export function reflectedDefinitions(): PackageDefinition {
  const health = protoLoader.loadSync(healthProtoPath, LOADER_OPTIONS);
  const rpc = protoLoader.loadSync(RPC_STATUS_PROTO, LOADER_OPTIONS);
  return { ...packageDefinition, ...health, ...rpc };
}

export function reflectionService(defs: PackageDefinition): ReflectionService {
  return new ReflectionService(withImports(defs));
}

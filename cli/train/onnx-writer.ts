/**
 * Writes ONNX model files from TypeScript, with protobufjs and the onnx.proto subset in
 * ./onnx-proto. No Python, no onnx package: the pack owns its model format end to end.
 *
 * Usage:
 * ```ts
 * const g = new OnnxGraph("double-plus-one");
 * const x = g.input("features", [null, 3]);              // float32 [batch, 3]
 * const two = g.floats("two", [2], []);                   // scalar initializer
 * const y = g.op("Add", [g.op("Mul", [x, two]), g.floats("one", [1], [])]);
 * g.output(y, "score", [null, 3]);                         // rename to a public output name
 * fs.writeFileSync("m.onnx", g.toBytes({ modelVersion: 1 }));
 * ```
 * `op()` names its outputs itself (`<OpType>_<n>`), so graph code reads like algebra. The graph
 * is checked before it is encoded (every input defined before use, names unique, outputs
 * produced), so a detector bug is a clear TypeScript error, not an opaque runtime failure.
 * Float tensors are stored as little-endian raw_data, as onnxruntime prefers.
 */
import { modelProtoType } from "./onnx-proto";
import { at } from "../checked";

/** A dimension: a fixed size, or null / a symbol name for a dynamic one (batch). */
export type Dim = number | string | null;

export type AttrValue =
  | { int: number }
  | { float: number }
  | { ints: number[] }
  | { floats: number[] }
  | { string: string };

/** ONNX opset the writer targets by default; onnxruntime-node 1.2x runs it on every CPU build. */
export const DEFAULT_OPSET = 17;
/** IR version 8 goes with opset 17 (onnx/docs/Versioning.md). */
export const IR_VERSION = 8;
const FLOAT = 1;
const INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

interface ValueInfo {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: Array<{ dimValue?: number; dimParam?: string }> } } };
  docString?: string;
}

export interface ModelOptions {
  producerVersion?: string;
  /** Integer model version for the ModelProto (the card carries the semver). */
  modelVersion?: number;
  docString?: string;
  /** Stored as metadata_props; onnxruntime exposes them, Netron shows them. */
  metadata?: Record<string, string>;
}

export class OnnxGraph {
  private readonly nodes: object[] = [];
  private readonly initializers: object[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly defined = new Set<string>();
  private counter = 0;

  constructor(readonly name: string, readonly opset = DEFAULT_OPSET) {}

  /** Declares a float32 graph input and returns its name. */
  input(name: string, dims: Dim[]): string {
    this.define(name);
    this.inputs.push(valueInfo(name, dims));
    return name;
  }

  /**
   * Declares a graph output. If `publicName` differs from `value`, an Identity node renames it,
   * so the public output names stay stable whatever the graph computes them from.
   */
  output(value: string, publicName: string, dims: Dim[], docString?: string): string {
    this.require(value);
    if (publicName !== value) this.node("Identity", [value], [publicName]);
    this.outputs.push({ ...valueInfo(publicName, dims), ...(docString ? { docString } : {}) });
    return publicName;
  }

  /** A float32 constant (initializer). `dims` [] makes a scalar. */
  floats(name: string, values: ArrayLike<number>, dims: number[]): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (values.length !== size) throw new Error(`tensor ${name}: ${values.length} values for dims [${dims.join(",")}]`);
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new Error(`tensor ${name}: value ${i} is not finite (${values[i]})`);
    }
    this.define(name);
    const raw = Buffer.from(Float32Array.from(values).buffer);
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: raw });
    return name;
  }

  /** An int64 constant, e.g. the `axes` input of ReduceSum. */
  int64s(name: string, values: number[], dims: number[]): string {
    this.define(name);
    this.initializers.push({ name, dims, dataType: INT64, int64Data: values });
    return name;
  }

  /** Adds a node with explicit output names; returns the first output. */
  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): string {
    for (const i of inputs) if (i !== "") this.require(i);
    for (const o of outputs) this.define(o);
    this.nodes.push({
      opType,
      input: inputs,
      output: outputs,
      name: `${opType}_node_${this.nodes.length}`,
      attribute: Object.entries(attrs).map(([n, v]) => attribute(n, v)),
    });
    return at(outputs, 0);
  }

  /** Adds a single-output node with a generated output name; returns that name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.node(opType, inputs, [`${opType}_${this.counter++}`], attrs);
  }

  /** Encodes the model. Throws if the graph has no output. */
  toBytes(options: ModelOptions = {}): Uint8Array {
    if (this.outputs.length === 0) throw new Error(`graph ${this.name} has no output`);
    const ModelProto = modelProtoType();
    const model = {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: "", version: this.opset }],
      producerName: "otbridge",
      producerVersion: options.producerVersion ?? "0",
      modelVersion: options.modelVersion ?? 1,
      docString: options.docString ?? "",
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
    const problem = ModelProto.verify(model);
    if (problem) throw new Error(`ONNX model does not fit the schema: ${problem}`);
    return ModelProto.encode(ModelProto.fromObject(model)).finish();
  }

  private define(name: string): void {
    if (!name) throw new Error("empty tensor name");
    if (this.defined.has(name)) throw new Error(`tensor name ${name} defined twice`);
    this.defined.add(name);
  }

  private require(name: string): void {
    if (!this.defined.has(name)) throw new Error(`tensor ${name} used before it is defined`);
  }
}

function valueInfo(name: string, dims: Dim[]): ValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: {
          dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d ?? "batch" })),
        },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): object {
  if ("int" in v) return { name, type: ATTR.INT, i: v.int };
  if ("float" in v) return { name, type: ATTR.FLOAT, f: v.float };
  if ("ints" in v) return { name, type: ATTR.INTS, ints: v.ints };
  if ("floats" in v) return { name, type: ATTR.FLOATS, floats: v.floats };
  return { name, type: ATTR.STRING, s: Buffer.from(v.string, "utf8") };
}

/** What a model file declares, read back with the same schema subset (for tests and tooling). */
export interface ModelSummary {
  irVersion: number;
  opset: number;
  producer: string;
  graphName: string;
  inputs: Array<{ name: string; dims: Dim[] }>;
  outputs: Array<{ name: string; dims: Dim[] }>;
  ops: string[];
  metadata: Record<string, string>;
}

/** Decodes a model file's header information. Throws on bytes that are not a ModelProto. */
export function describeModel(bytes: Uint8Array): ModelSummary {
  const ModelProto = modelProtoType();
  const m = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, defaults: true }) as {
    irVersion: number;
    opsetImport: Array<{ domain: string; version: number }>;
    producerName: string;
    graph?: { name: string; node: Array<{ opType: string }>; input: ValueInfo[]; output: ValueInfo[] };
    metadataProps: Array<{ key: string; value: string }>;
  };
  if (!m.graph) throw new Error("not an ONNX model: no graph");
  const dims = (v: ValueInfo): Dim[] =>
    (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : (d.dimValue ?? null)));
  return {
    irVersion: m.irVersion,
    opset: m.opsetImport.find((o) => !o.domain)?.version ?? 0,
    producer: m.producerName,
    graphName: m.graph.name,
    inputs: m.graph.input.map((v) => ({ name: v.name, dims: dims(v) })),
    outputs: m.graph.output.map((v) => ({ name: v.name, dims: dims(v) })),
    ops: m.graph.node.map((n) => n.opType),
    metadata: Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value])),
  };
}

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GptLoadError } from "../lib/errors.js";
import { seededRandom } from "./fuzz/mutate.js";
import { unpickle } from "../lib/checkpoint/pickle.js";
import { torchStateDictHooks } from "../lib/checkpoint/torch-pickle.js";
import { bufferSource, readStoredEntry, readZipDirectory } from "../lib/checkpoint/zip.js";
import {
  parseTorchBin,
  readTorchBin,
  readTorchBinIndex,
  readTorchBinShards,
  TORCH_BIN_INDEX_FILE,
  type TorchBinFile,
} from "../lib/checkpoint/torch-bin.js";

// Fixtures: python3 scripts/make-bin-cases.py (expected.json records torch's view of each benign file).
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "bin");
interface ExpectedTensor {
  name: string;
  dtype: string;
  shape: number[];
  sha256: string;
}
const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, "expected.json"), "utf8")) as {
  marker: string;
  tensors: Record<string, ExpectedTensor[]>;
};
const ELEMENT_SIZE: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const fixture = (name: string): string => join(FIXTURES, name);

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "gpt-cuda-torch-bin-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** The tensors must be exactly torch's: names in order, dtypes, shapes, and the bytes at each offset. */
function expectTorchTensors(result: TorchBinFile, bytes: Uint8Array, expected: ExpectedTensor[]): void {
  expect([...result.tensors.keys()]).toEqual(expected.map((t) => t.name));
  for (const want of expected) {
    const got = result.tensors.get(want.name)!;
    expect({ name: got.name, dtype: got.dtype, shape: got.shape }).toEqual({ name: want.name, dtype: want.dtype, shape: want.shape });
    expect(got.byteLength).toBe(want.shape.reduce((a, b) => a * b, 1) * ELEMENT_SIZE[want.dtype]!);
    expect(got.offset + got.byteLength).toBeLessThanOrEqual(bytes.length);
    const sha = createHash("sha256").update(bytes.subarray(got.offset, got.offset + got.byteLength)).digest("hex");
    expect(sha, `bytes of "${want.name}"`).toBe(want.sha256);
  }
}

// ---------------------------------------------------------------------------------------------
// Hand-made pickles and zips, for the malformed cases

const enc = new TextEncoder();
function bytes(...parts: (number | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((p) => (typeof p === "number" ? Uint8Array.of(p) : p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};
const OP = {
  PROTO2: bytes(0x80, 2), STOP: 0x2e, MARK: 0x28, EMPTY_DICT: 0x7d, EMPTY_TUPLE: 0x29, TUPLE: 0x74, TUPLE1: 0x85,
  SETITEM: 0x73, SETITEMS: 0x75, REDUCE: 0x52, BINPERSID: 0x51, NEWFALSE: 0x89, NONE: 0x4e, BINPUT: 0x71, BINGET: 0x68,
} as const;
const X = (s: string): Uint8Array => bytes(0x58, u32(enc.encode(s).length), enc.encode(s));
const G = (module: string, name: string): Uint8Array => bytes(0x63, enc.encode(`${module}\n${name}\n`));
const K = (n: number): Uint8Array => bytes(0x4b, n);
const tuple = (items: number[]): Uint8Array => bytes(OP.MARK, ...items.map(K), OP.TUPLE);

/** The pickled form torch.save gives one tensor; every part can be overridden to break it. */
function tensorOps(o: { key?: string; numel?: number; size?: number[]; stride?: number[]; offset?: number; storage?: Uint8Array; extra?: Uint8Array } = {}): Uint8Array {
  const size = o.size ?? [o.numel ?? 4];
  const stride = o.stride ?? size.map((_, i) => size.slice(i + 1).reduce((a, b) => a * b, 1));
  return bytes(
    G("torch._utils", "_rebuild_tensor_v2"),
    OP.MARK,
    OP.MARK, X("storage"), o.storage ?? G("torch", "FloatStorage"), X(o.key ?? "0"), X("cpu"), K(o.numel ?? 4), OP.TUPLE, OP.BINPERSID,
    K(o.offset ?? 0), tuple(size), tuple(stride), OP.NEWFALSE, G("collections", "OrderedDict"), OP.EMPTY_TUPLE, OP.REDUCE,
    o.extra ?? new Uint8Array(),
    OP.TUPLE, OP.REDUCE,
  );
}
/** PROTO 2, a dict of name → pickled value, STOP. */
function stateDict(entries: [string, Uint8Array][]): Uint8Array {
  return bytes(OP.PROTO2, OP.EMPTY_DICT, OP.MARK, ...entries.flatMap(([k, v]) => [X(k), v]), OP.SETITEMS, OP.STOP);
}

/** A stored zip of `entries`, the way any zip tool lays it out (unaligned, CRCs left 0: the reader never checks them). */
function zip(entries: [string, Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let at = 0;
  for (const [name, data] of entries) {
    const n = enc.encode(name);
    const local = new Uint8Array(30);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, n.length, true);
    const c = new Uint8Array(46);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, n.length, true);
    cv.setUint32(42, at, true);
    parts.push(local, n, data);
    central.push(c, n);
    at += 30 + n.length + data.length;
  }
  const cd = bytes(...central);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cd.length, true);
  ev.setUint32(16, at, true);
  return bytes(...parts, cd, end);
}
/** torch's layout around a data.pkl, with storage "0" of 16 bytes unless told otherwise. */
function torchZip(pkl: Uint8Array, storages: [string, Uint8Array][] = [["0", new Uint8Array(16)]]): Uint8Array {
  return zip([["archive/data.pkl", pkl], ["archive/byteorder", enc.encode("little")], ...storages.map(([k, d]): [string, Uint8Array] => [`archive/data/${k}`, d])]);
}

async function loadError(run: Promise<unknown>): Promise<GptLoadError> {
  const err = await run.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GptLoadError);
  return err as GptLoadError;
}
async function expectRefused(data: Uint8Array, code: string, ...phrases: string[]): Promise<GptLoadError> {
  const err = await loadError(parseTorchBin("case.bin", data));
  expect(err.code).toBe(code);
  expect(err.file).toBe("case.bin");
  expect(err.message.startsWith("case.bin: ")).toBe(true);
  for (const phrase of phrases) expect(err.message).toContain(phrase);
  return err;
}

// ---------------------------------------------------------------------------------------------

describe("readTorchBin: every benign file gives exactly torch's tensors", () => {
  it.each(Object.keys(EXPECTED.tensors))("%s", async (name) => {
    const file = fixture(name);
    const result = await readTorchBin(file);
    expect(result.file).toBe(file);
    expectTorchTensors(result, readFileSync(file), EXPECTED.tensors[name]!);
  });

  it("F32, F16 and BF16 state dicts (OrderedDict with _metadata, plain dict, pickle protocol 4)", async () => {
    const dtypes = async (name: string) => new Set([...(await readTorchBin(fixture(name))).tensors.values()].map((t) => t.dtype));
    expect(await dtypes("f32.bin")).toEqual(new Set(["F32", "I64", "BOOL"]));
    expect(await dtypes("f16.bin")).toEqual(new Set(["F16"]));
    expect(await dtypes("bf16.bin")).toEqual(new Set(["BF16"]));
  });

  it("tied tensors and views of one storage all point into it, at their storage offsets", async () => {
    const t = (await readTorchBin(fixture("f32.bin"))).tensors;
    const [matrix, a, b] = [t.get("matrix")!, t.get("tied.a")!, t.get("tied.b")!];
    expect([a.offset, b.offset, a.storage, b.storage]).toEqual([matrix.offset, matrix.offset, matrix.storage, matrix.storage]);
    const [head, offset, row] = [t.get("view.head")!, t.get("view.offset")!, t.get("view.row")!];
    expect(new Set([head.storage, offset.storage, row.storage]).size).toBe(1);
    expect(offset.offset - head.offset).toBe(10 * 4);
    expect(row.offset - head.offset).toBe(4 * 4);
  });

  it("scalars, empty tensors and size-1 dims of any stride", async () => {
    const t = (await readTorchBin(fixture("f32.bin"))).tensors;
    expect([t.get("scalar")!.shape, t.get("scalar")!.byteLength]).toEqual([[], 4]);
    expect([t.get("empty")!.shape, t.get("empty")!.byteLength]).toEqual([[0, 4], 0]);
    expect(t.get("view.row")!.shape).toEqual([1, 1]);
  });

  it("non-float tensors are returned with their stored dtype, for the loader to refuse if it needs them", async () => {
    const t = (await readTorchBin(fixture("f32.bin"))).tensors;
    expect([t.get("position_ids")!.dtype, t.get("mask")!.dtype]).toEqual(["I64", "BOOL"]);
  });

  it("nn.Parameters (_rebuild_parameter) read as their tensors", async () => {
    const t = (await readTorchBin(fixture("f16.bin"))).tensors;
    expect([...t.keys()]).toEqual(["weight", "bias", "scale"]);
  });

  it("storages start 64-byte aligned, as torch.save writes them", async () => {
    const result = await readTorchBin(fixture("gpt2/pytorch_model.bin"));
    for (const t of result.tensors.values()) expect(t.offset % 64, t.name).toBe(0);
  });

  it("names the archive folder: the file's stem, or 'archive' for a file object", async () => {
    expect((await readTorchBin(fixture("gpt2/pytorch_model.bin"))).archive).toBe("pytorch_model");
    expect((await readTorchBin(fixture("f16.bin"))).archive).toBe("archive");
  });

  it("reads ZIP64 archives (what torch writes past 4 GB)", async () => {
    const plain = await readTorchBin(fixture("f32.bin"));
    const big = await readTorchBin(fixture("zip64.bin"));
    expect([...big.tensors.keys()]).toEqual([...plain.tensors.keys()]);
  });

  it("memo indices past 255 (LONG_BINPUT / LONG_BINGET)", async () => {
    expect((await readTorchBin(fixture("many.bin"))).tensors.size).toBe(40);
  });

  it("parseTorchBin over bytes in memory agrees with readTorchBin", async () => {
    const file = fixture("gpt2/pytorch_model.bin");
    expect(await parseTorchBin(file, await readFile(file))).toEqual(await readTorchBin(file));
  });

  it("the tiny GPT-2 saved as transformers 4 did: every weight, lm_head tied to wte", async () => {
    const t = (await readTorchBin(fixture("gpt2/pytorch_model.bin"))).tensors;
    expect(t.get("transformer.h.1.attn.c_attn.weight")!.shape).toEqual([8, 24]);
    expect(t.get("lm_head.weight")!.offset).toBe(t.get("transformer.wte.weight")!.offset);
  });
});

describe("sharded .bin checkpoints (pytorch_model.bin.index.json)", () => {
  const dir = fixture("gpt2-sharded");
  const shardNames = [1, 2, 3].map((k) => `pytorch_model-0000${k}-of-00003.bin`);

  async function copy(): Promise<string> {
    const to = await mkdtemp(join(scratch, "sharded-"));
    await cp(dir, to, { recursive: true });
    return to;
  }

  it("lists the shards in order and reads every tensor from the shard the index names", async () => {
    const index = await readTorchBinIndex(dir);
    expect(index.shards).toEqual(shardNames.map((n) => join(dir, n)));
    const all = await readTorchBinShards(index);
    expect(all.files.map((f) => f.file)).toEqual(index.shards);
    for (const name of shardNames) {
      const want = EXPECTED.tensors[`gpt2-sharded/${name}`]!;
      for (const t of want) expect(all.tensors.get(t.name)!.file).toBe(join(dir, name));
    }
    expect(all.tensors.size).toBe((await readTorchBin(fixture("gpt2/pytorch_model.bin"))).tensors.size);
    expect(all.totalBytes).toBe(all.files.reduce((n, f) => n + f.fileSize, 0));
  });

  it("a missing shard is E_CHECKPOINT naming it", async () => {
    const to = await copy();
    await rm(join(to, shardNames[1]!));
    const err = await loadError(readTorchBinIndex(to));
    expect(err.code).toBe("E_CHECKPOINT");
    expect(err.file).toBe(join(to, shardNames[1]!));
    expect(err.message).toMatch(/not found \(listed in pytorch_model\.bin\.index\.json as holding \d+ tensors\)/);
  });

  it("a tensor stored in two shards is E_CHECKPOINT naming both", async () => {
    const to = await copy();
    await cp(join(to, shardNames[0]!), join(to, shardNames[2]!));
    const err = await loadError(readTorchBinShards(await readTorchBinIndex(to)));
    expect(err.code).toBe("E_CHECKPOINT");
    expect(err.message).toContain(`is stored in two shards, ${shardNames[0]} and ${shardNames[2]}`);
  });

  it("a tensor the index puts in the wrong shard is E_CHECKPOINT naming that shard", async () => {
    const to = await copy();
    const indexFile = join(to, TORCH_BIN_INDEX_FILE);
    const index = JSON.parse(await readFile(indexFile, "utf8")) as { weight_map: Record<string, string> };
    index.weight_map["lm_head.weight"] = shardNames[0]!;
    await writeFile(indexFile, JSON.stringify(index));
    const err = await loadError(readTorchBinShards(await readTorchBinIndex(to)));
    expect(err.file).toBe(join(to, shardNames[0]!));
    expect(err.message).toContain(`has no tensor "lm_head.weight", but ${TORCH_BIN_INDEX_FILE} says this file holds it (it is in ${shardNames[2]})`);
  });

  it("a missing or malformed index is E_CHECKPOINT naming it", async () => {
    const to = await copy();
    const indexFile = join(to, TORCH_BIN_INDEX_FILE);
    await writeFile(indexFile, '{"weight_map": {"a": "../escape.bin"}}');
    expect((await loadError(readTorchBinIndex(to))).message).toContain("expected a plain file name");
    await rm(indexFile);
    const err = await loadError(readTorchBinIndex(to));
    expect([err.file, err.message]).toEqual([indexFile, `${indexFile}: not found`]);
  });
});

describe("malicious pickles are refused when the global is named, and nothing runs", () => {
  const cases: [string, string][] = [
    ["malicious-posix-system.bin", "posix.system"],
    ["malicious-os-system.bin", "os.system"],
    ["malicious-eval.bin", "builtins.eval"],
    ["malicious-exec.bin", "builtins.exec"],
    ["malicious-popen.bin", "subprocess.Popen"],
    ["malicious-getattr.bin", "builtins.getattr"],
    ["malicious-stack-global.bin", "posix.system"],
    ["malicious-storage-type.bin", "posix.system"],
    ["malicious-torch-save.bin", "posix.system"],
  ];
  it.each(cases)("%s (%s)", async (name, global) => {
    await rm(EXPECTED.marker, { force: true });
    const file = fixture(name);
    const err = await loadError(readTorchBin(file));
    expect(err.code).toBe("E_CHECKPOINT");
    expect(err.file).toBe(file);
    expect(err.message).toContain(`refers to the global "${global}", which a PyTorch state dict never uses`);
    expect(existsSync(EXPECTED.marker)).toBe(false);
  });

  it("the refusal comes at GLOBAL itself, before any later opcode is looked at", () => {
    // Were the refusal deferred to REDUCE, this would fail as truncated instead.
    const pkl = bytes(OP.PROTO2, G("os", "system"));
    expect(() => unpickle(pkl, torchStateDictHooks(), "case.bin", "archive/data.pkl")).toThrow(
      /refers to the global "os\.system".*\(at byte 2\)/,
    );
  });

  it("REDUCE may only call the state-dict callables, never a storage class or a string", async () => {
    await expectRefused(torchZip(stateDict([["w", bytes(G("torch", "FloatStorage"), OP.EMPTY_TUPLE, OP.REDUCE)]])), "E_CHECKPOINT", "REDUCE calls the storage class torch.FloatStorage, which is not callable here");
    await expectRefused(torchZip(stateDict([["w", bytes(X("os.system"), OP.EMPTY_TUPLE, OP.REDUCE)]])), "E_CHECKPOINT", 'REDUCE calls the string "os.system"');
  });

  it("torch globals for tensors we cannot map are E_UNSUPPORTED, still never called", async () => {
    await expectRefused(torchZip(bytes(OP.PROTO2, G("torch._utils", "_rebuild_tensor_v3"))), "E_UNSUPPORTED", "torch._utils._rebuild_tensor_v3", "uint16");
    await expectRefused(torchZip(bytes(OP.PROTO2, G("torch._tensor", "_rebuild_from_type_v2"))), "E_UNSUPPORTED", "tensor subclasses");
  });
});

describe("unsupported and malformed files are GptLoadErrors naming the problem", () => {
  const fixtures: [string, string, string][] = [
    ["transposed.bin", "E_UNSUPPORTED", 'tensor "t" is not contiguous (shape [4, 3], strides [1, 4]'],
    ["big-endian.bin", "E_UNSUPPORTED", 'stores its tensors big-endian ("f32/byteorder" says "big")'],
    ["compressed.bin", "E_UNSUPPORTED", 'tensor "scalar": its storage entry "f32/data/0" is compressed (zip method 8, deflate)'],
    ["legacy.bin", "E_UNSUPPORTED", "is in the legacy torch.save format"],
    ["truncated.bin", "E_CHECKPOINT", "has no end of central directory record (the file is truncated or corrupt)"],
    ["short-size.bin", "E_CHECKPOINT", 'tensor "v" (F32 [9] at element 0 of its storage) needs 9 elements, but its storage "short-size/data/0" holds 6'],
    ["short-entry.bin", "E_CHECKPOINT", 'tensor "w" (F32 [4, 4] at element 0 of its storage) needs 16 elements, but its storage "short-entry/data/0" holds 10'],
  ];
  it.each(fixtures)("%s: %s", async (name, code, phrase) => {
    const file = fixture(name);
    const err = await loadError(readTorchBin(file));
    expect([err.code, err.file]).toEqual([code, file]);
    expect(err.message).toContain(phrase);
  });

  it("the legacy format says how to fix it", async () => {
    const err = await loadError(readTorchBin(fixture("legacy.bin")));
    expect(err.message).toContain("re-save it with a current torch");
    expect(err.message).toContain("convert it to safetensors");
  });

  it("files that are not checkpoints at all", async () => {
    await expectRefused(new Uint8Array(), "E_CHECKPOINT", "is empty");
    await expectRefused(enc.encode("hello, this is not a checkpoint"), "E_CHECKPOINT", "neither a zip archive");
    await expectRefused(bytes(u32(2), u32(0), enc.encode("{}")), "E_CHECKPOINT", "looks like a safetensors file");
    const dirErr = await loadError(readTorchBin(FIXTURES));
    expect(dirErr.message).toContain("is a directory");
    expect((await loadError(readTorchBin(join(scratch, "nope.bin")))).message).toContain("not found");
  });

  it("zips that are not torch.save archives", async () => {
    await expectRefused(zip([["weights.txt", enc.encode("x")]]), "E_CHECKPOINT", "without a <archive>/data.pkl entry");
    await expectRefused(zip([["a/data.pkl", stateDict([])], ["b/data.pkl", stateDict([])]]), "E_CHECKPOINT", "holds 2 pickled objects");
    await expectRefused(zip([["m/data.pkl", stateDict([])], ["m/constants.pkl", stateDict([])]]), "E_UNSUPPORTED", "TorchScript");
    await expectRefused(zip([["a/data.pkl", stateDict([])], ["a/byteorder", enc.encode("middle")]]), "E_CHECKPOINT", 'says "middle"');
  });

  it("zip structure: a directory past the end, a missing local header, duplicate names", async () => {
    const good = torchZip(stateDict([["w", tensorOps()]]));
    const cdPast = good.slice();
    new DataView(cdPast.buffer).setUint32(cdPast.length - 6, 1 << 30, true);
    await expectRefused(cdPast, "E_CHECKPOINT", "central directory", "runs past the end of the file");
    const noLocal = good.slice();
    noLocal[0] = 0; // the local header of data.pkl
    await expectRefused(noLocal, "E_CHECKPOINT", 'zip entry "archive/data.pkl": no local header at offset 0');
    await expectRefused(zip([["a/data.pkl", stateDict([])], ["a/data.pkl", stateDict([])]]), "E_CHECKPOINT", 'two entries named "a/data.pkl"');
  });

  it("pickle opcodes a state dict never uses, and the offset where they are", async () => {
    await expectRefused(torchZip(bytes(OP.PROTO2, 0x49, enc.encode("1\n"), OP.STOP)), "E_CHECKPOINT", "unsupported pickle opcode 0x49 ('I')", "(at byte 2)");
    await expectRefused(torchZip(bytes(OP.PROTO2, 0xff)), "E_CHECKPOINT", "unsupported pickle opcode 0xff", "(at byte 2)");
    await expectRefused(torchZip(bytes(0x80, 9, OP.STOP)), "E_CHECKPOINT", "pickle protocol 9");
  });

  it("truncated pickles, huge lengths, stack underflow, missing memo entries", async () => {
    await expectRefused(torchZip(stateDict([["w", tensorOps()]]).subarray(0, 60)), "E_CHECKPOINT", "archive/data.pkl: truncated");
    await expectRefused(torchZip(bytes(OP.PROTO2, OP.EMPTY_DICT)), "E_CHECKPOINT", "ends before its STOP opcode");
    await expectRefused(torchZip(bytes(OP.PROTO2, 0x58, u32(0xffffffff), 0x41)), "E_CHECKPOINT", "truncated: BINUNICODE string needs 4294967295 bytes");
    await expectRefused(torchZip(bytes(OP.PROTO2, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), "E_CHECKPOINT", "BINUNICODE8 string of 18446744073709551615 bytes");
    await expectRefused(torchZip(bytes(OP.PROTO2, 0x8a, 200)), "E_CHECKPOINT", "LONG1 integer of 200 bytes");
    await expectRefused(torchZip(bytes(OP.PROTO2, OP.REDUCE)), "E_CHECKPOINT", "stack underflow in REDUCE", "(at byte 2)");
    await expectRefused(torchZip(bytes(OP.PROTO2, OP.EMPTY_DICT, OP.MARK, OP.SETITEM)), "E_CHECKPOINT", "stack underflow in SETITEM");
    await expectRefused(torchZip(bytes(OP.PROTO2, OP.TUPLE)), "E_CHECKPOINT", "TUPLE without a MARK");
    await expectRefused(torchZip(bytes(OP.PROTO2, OP.BINGET, 7, OP.STOP)), "E_CHECKPOINT", "memo entry 7 is read but was never stored");
    await expectRefused(torchZip(bytes(OP.PROTO2, OP.STOP)), "E_CHECKPOINT", "stack underflow in STOP");
    await expectRefused(torchZip(bytes(OP.PROTO2, 0x63, enc.encode("os"))), "E_CHECKPOINT", "GLOBAL module has no end of line");
    await expectRefused(torchZip(bytes(OP.PROTO2, X("a"), X("k"), X("v"), OP.SETITEM, OP.STOP)), "E_CHECKPOINT", 'SETITEM on the string "a", not a dict');
  });

  it("a pickle that is not a flat state dict of tensors", async () => {
    await expectRefused(torchZip(bytes(OP.PROTO2, OP.NONE, OP.STOP)), "E_CHECKPOINT", "holds None, not a state dict");
    await expectRefused(torchZip(stateDict([["epoch", K(3)]])), "E_CHECKPOINT", 'state dict entry "epoch" is the int 3, not a tensor');
    await expectRefused(torchZip(bytes(OP.PROTO2, OP.EMPTY_DICT, K(1), tensorOps(), OP.SETITEM, OP.STOP)), "E_CHECKPOINT", "state dict key the int 1 is not a string");
  });

  it("persistent ids, storages and tensor arguments that are not what torch.save writes", async () => {
    const pid = (...items: Uint8Array[]) => stateDict([["w", bytes(OP.MARK, ...items, OP.TUPLE, OP.BINPERSID)]]);
    await expectRefused(torchZip(pid(X("storage"))), "E_CHECKPOINT", "persistent id a tuple of 1 is not ('storage', type, key, location, numel)");
    await expectRefused(torchZip(pid(X("storage"), X("x"), X("0"), X("cpu"), K(1))), "E_CHECKPOINT", 'persistent id names the string "x" as its storage type');
    await expectRefused(torchZip(pid(X("storage"), G("torch", "FloatStorage"), X("0"), X("cpu"), X("4"))), "E_CHECKPOINT", 'storage "0" has the string "4" elements');
    await expectRefused(torchZip(stateDict([["w", tensorOps({ key: "9" })]])), "E_CHECKPOINT", 'tensor "w": its storage "9" has no entry "archive/data/9"');
    await expectRefused(torchZip(stateDict([["w", tensorOps({ size: [2, 2], stride: [2] })]])), "E_CHECKPOINT", "of 2 dims has stride a tuple of 1");
    await expectRefused(torchZip(stateDict([["w", tensorOps({ extra: bytes(OP.NONE, OP.NONE) })]])), "E_CHECKPOINT", "_rebuild_tensor_v2 expects 6 or 7 arguments, got 8");
    const metadata = bytes(OP.EMPTY_DICT, X("conj"), OP.NEWFALSE, OP.SETITEM);
    await expectRefused(torchZip(stateDict([["w", tensorOps({ extra: metadata })]])), "E_UNSUPPORTED", "carries tensor metadata a dict of 1");
    const twoDtypes = stateDict([["a", tensorOps()], ["b", tensorOps({ storage: G("torch", "HalfStorage") })]]);
    await expectRefused(torchZip(twoDtypes), "E_UNSUPPORTED", 'storage "0" is read both as F32 and as F16');
  });

  it("a tensor past the end of its storage, by its offset or by its size", async () => {
    await expectRefused(torchZip(stateDict([["w", tensorOps({ offset: 2 })]])), "E_CHECKPOINT", 'tensor "w" (F32 [4] at element 2 of its storage) needs 6 elements, but its storage "archive/data/0" holds 4');
    const short: [string, Uint8Array][] = [["0", new Uint8Array(15)]];
    await expectRefused(torchZip(stateDict([["w", tensorOps()]]), short), "E_CHECKPOINT", 'tensor "w"', "holds 3");
    // A valid view needs only the elements it addresses: the last row of a [4, 1] storage.
    const ok = await parseTorchBin("case.bin", torchZip(stateDict([["w", tensorOps({ size: [1], offset: 3 })]])));
    expect(ok.tensors.get("w")!.byteLength).toBe(4);
  });

  it("no byteorder entry (torch 1.6 to 1.9) means little-endian", async () => {
    const data = zip([["old/data.pkl", stateDict([["w", tensorOps()]])], ["old/data/0", new Uint8Array(16)], ["old/version", enc.encode("3\n")]]);
    expect((await parseTorchBin("case.bin", data)).tensors.get("w")!.byteLength).toBe(16);
  });

  it("a benign state dict assembled here reads back (the helpers above make real pickles)", async () => {
    const data = torchZip(stateDict([["w", tensorOps()]]), [["0", Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)]]);
    const w = (await parseTorchBin("case.bin", data)).tensors.get("w")!;
    expect([...data.subarray(w.offset, w.offset + w.byteLength)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  });

  it("deep nesting and long pickles stay bounded", async () => {
    const marks = new Uint8Array(200_000).fill(OP.MARK);
    await expectRefused(torchZip(bytes(OP.PROTO2, marks, OP.STOP)), "E_CHECKPOINT", "stack underflow in STOP");
    const nones = new Uint8Array(200_000).fill(OP.NONE);
    await expectRefused(torchZip(bytes(OP.PROTO2, nones, OP.STOP)), "E_CHECKPOINT", "holds None");
  });
});

describe("fuzz: mutated files only ever give tensors or GptLoadErrors", () => {
  /** A small seeded generator, so a failure names a reproducible seed. */
  const rng = seededRandom;

  function mutate(base: Uint8Array, random: () => number, hot: [number, number][]): Uint8Array {
    const pick = (n: number) => Math.floor(random() * n);
    const at = (): number => {
      // Mostly where the structure is (data.pkl, the headers, the central directory).
      if (random() < 0.8) {
        const [from, to] = hot[pick(hot.length)]!;
        return from + pick(to - from);
      }
      return pick(base.length);
    };
    const out = base.slice();
    switch (pick(5)) {
      case 0: // flip a few bits
        for (let i = 0, n = 1 + pick(4); i < n; i++) out[at()]! ^= 1 << pick(8);
        return out;
      case 1: // random bytes
        for (let i = 0, n = 1 + pick(8); i < n; i++) out[at()] = pick(256);
        return out;
      case 2: // interesting values: lengths and counts at their limits
        {
          const p = at();
          const v = [0x00, 0xff, 0x7f, 0x80][pick(4)]!;
          for (let i = 0; i < 4 && p + i < out.length; i++) out[p + i] = v;
        }
        return out;
      case 3: // cut
        return out.subarray(0, pick(base.length));
      default: {
        // delete or duplicate a range
        const p = at();
        const n = 1 + pick(16);
        return random() < 0.5 ? bytes(out.subarray(0, p), out.subarray(p + n)) : bytes(out.subarray(0, p + n), out.subarray(p));
      }
    }
  }

  async function check(name: string, data: Uint8Array): Promise<"tensors" | "error"> {
    try {
      const result = await parseTorchBin(name, data);
      for (const t of result.tensors.values()) {
        expect(t.offset + t.byteLength, `${name}: ${t.name}`).toBeLessThanOrEqual(data.length);
        expect(t.byteLength).toBe(t.shape.reduce((a, b) => a * b, 1) * ELEMENT_SIZE[t.dtype]!);
      }
      return "tensors";
    } catch (err) {
      if (!(err instanceof GptLoadError)) throw new Error(`${name}: not a GptLoadError: ${String(err)}`, { cause: err });
      expect(err.file).toBe(name);
      return "error";
    }
  }

  it.each(["f32.bin", "bf16.bin", "gpt2/pytorch_model.bin"])("300 seeded mutations of %s", async (name) => {
    // A copy: Buffer.slice would share memory, and mutations would pile up.
    const base = new Uint8Array(readFileSync(fixture(name)));
    const cdOffset = new DataView(base.buffer).getUint32(base.length - 22 + 16, true);
    const hot: [number, number][] = [
      [0, Math.min(base.length, 1024)], // local header and data.pkl
      [cdOffset, base.length], // central directory and end record
    ];
    const outcomes = { tensors: 0, error: 0 };
    for (let seed = 1; seed <= 300; seed++) {
      const random = rng(seed * 7919 + name.length);
      outcomes[await check(`${name}#${seed}`, mutate(base, random, hot))]++;
    }
    // Both outcomes occur: the mutations reach the parser rather than all failing at one check.
    expect(outcomes.tensors).toBeGreaterThan(0);
    expect(outcomes.error).toBeGreaterThan(0);
  });

  it("300 seeded mutations of a data.pkl, straight into the unpickler", async () => {
    const source = bufferSource("f32.bin", readFileSync(fixture("f32.bin")));
    const pkl = await readStoredEntry(source, (await readZipDirectory(source))!.entries.get("f32/data.pkl")!, 1 << 20);
    const hooks = () => torchStateDictHooks();
    expect(() => unpickle(pkl, hooks(), "case.bin", "archive/data.pkl")).not.toThrow();
    let errors = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const data = mutate(pkl, rng(seed), [[0, pkl.length]]);
      try {
        unpickle(data, hooks(), "case.bin", "archive/data.pkl");
      } catch (err) {
        if (!(err instanceof GptLoadError)) throw new Error(`seed ${seed}: not a GptLoadError: ${String(err)}`, { cause: err });
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(0);
  });
});

/**
 * A restricted unpickler: it builds plain values from a pickle and never runs anything. The
 * three operations through which a pickle runs code — naming a global (GLOBAL, STACK_GLOBAL),
 * calling it (REDUCE) and loading a persistent id (BINPERSID) — go to `PickleHooks`, which
 * decide what each may produce; everything else only moves values between the stack and the memo.
 *
 * Opcodes understood. What torch.save (protocol 2, the default) and transformers'
 * save_pretrained(safe_serialization=False) emit for a state dict:
 *   PROTO STOP MARK  GLOBAL REDUCE BUILD BINPERSID  BINPUT LONG_BINPUT BINGET LONG_BINGET
 *   BININT BININT1 BININT2 LONG1  BINUNICODE  NEWTRUE NEWFALSE NONE
 *   EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3  EMPTY_DICT SETITEM SETITEMS
 * and their close relatives, from torch.save(..., pickle_protocol=3/4/5) and other torch and
 * Python versions: FRAME MEMOIZE STACK_GLOBAL SHORT_BINUNICODE BINUNICODE8 LONG4 BINFLOAT
 * EMPTY_LIST LIST APPEND APPENDS DICT POP POP_MARK DUP.
 * Anything else (the text protocol-0 opcodes, bytes, sets, NEWOBJ, INST/OBJ, EXT*, ...) is refused.
 */
import { GptLoadError } from "../errors.js";

/** A value the hooks made: a global, a storage, a tensor. The VM only moves it around. */
export abstract class PickleObject {
  /** A few words for error messages, e.g. "the global collections.OrderedDict". */
  abstract describe(): string;
}

/** A Python tuple. */
export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

/** A Python list. */
export class PickleList {
  constructor(readonly items: PickleValue[] = []) {}
}

/** Keys a dict may have here: the hashable scalars (Python's 1 and True would collide; ours do not). */
export type PickleKey = string | number | bigint | boolean | null;

/** A Python dict or collections.OrderedDict (both keep insertion order). */
export class PickleDict {
  readonly entries = new Map<PickleKey, PickleValue>();
  constructor(readonly ordered = false) {}
}

/** A Python float, kept apart from ints so that a size of 3.0 is not taken for 3. */
export class PickleFloat {
  constructor(readonly value: number) {}
}

/** Ints are numbers when they are safe integers, bigints beyond. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PickleFloat
  | PickleTuple
  | PickleList
  | PickleDict
  | PickleObject;

/**
 * What a hook throws to refuse a pickle; `unpickle` turns it into a GptLoadError naming the
 * file, the entry and the offset of the opcode.
 */
export class PickleRefusal extends Error {
  constructor(
    readonly code: "E_CHECKPOINT" | "E_UNSUPPORTED",
    readonly problem: string,
  ) {
    super(problem);
  }
}

/** Hooks may throw PickleRefusal; anything else they throw passes through unchanged. */
export interface PickleHooks {
  /** GLOBAL / STACK_GLOBAL: the value for `module.name`, or throw: a global is refused when it is named. */
  findGlobal(module: string, name: string): PickleValue;
  /** BINPERSID: the object for a persistent id. */
  persistentLoad(pid: PickleValue): PickleValue;
  /** REDUCE: the result of calling `callable` (a value findGlobal made) with `args`. */
  reduce(callable: PickleValue, args: PickleTuple): PickleValue;
}

/** The most values the stack or the memo may hold; a state dict needs a few thousand. */
export const MAX_PICKLE_STACK = 1 << 20;
export const MAX_PICKLE_MEMO = 1 << 22;
/** LONG1/LONG4 ints wider than this are not sizes or offsets of any real tensor. */
const MAX_INT_BYTES = 16;

const utf8 = new TextDecoder("utf-8", { fatal: true });
const ascii = new TextDecoder("latin1");

/** Human names of opcodes, for messages. */
const OPCODE_NAMES: Record<number, string> = {
  0x80: "PROTO", 0x95: "FRAME", 0x2e: "STOP", 0x28: "MARK", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP",
  0x4e: "NONE", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x4a: "BININT", 0x4b: "BININT1", 0x4d: "BININT2",
  0x8a: "LONG1", 0x8b: "LONG4", 0x47: "BINFLOAT", 0x58: "BINUNICODE", 0x8c: "SHORT_BINUNICODE",
  0x8d: "BINUNICODE8", 0x29: "EMPTY_TUPLE", 0x74: "TUPLE", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3",
  0x5d: "EMPTY_LIST", 0x6c: "LIST", 0x61: "APPEND", 0x65: "APPENDS", 0x7d: "EMPTY_DICT", 0x64: "DICT",
  0x73: "SETITEM", 0x75: "SETITEMS", 0x63: "GLOBAL", 0x93: "STACK_GLOBAL", 0x52: "REDUCE", 0x62: "BUILD",
  0x51: "BINPERSID", 0x71: "BINPUT", 0x72: "LONG_BINPUT", 0x94: "MEMOIZE", 0x68: "BINGET", 0x6a: "LONG_BINGET",
};

/**
 * Run the pickle in `bytes` (the entry `entry` of `file`) and return the value STOP returns.
 * Every failure is a GptLoadError naming the file, the entry and the byte offset of the
 * opcode: E_CHECKPOINT, or the code of a hook's PickleRefusal.
 */
export function unpickle(bytes: Uint8Array, hooks: PickleHooks, file: string, entry: string): PickleValue {
  let opAt = 0;
  try {
    return run(bytes, hooks, (pos) => (opAt = pos));
  } catch (err) {
    if (err instanceof PickleRefusal) {
      throw new GptLoadError(err.code, file, `${entry}: ${err.problem} (at byte ${opAt})`, { cause: err });
    }
    throw err;
  }
}

/** The VM proper; `onOpcode` learns each opcode's offset, for messages. */
function run(bytes: Uint8Array, hooks: PickleHooks, onOpcode: (pos: number) => void): PickleValue {
  const data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: PickleValue[] = [];
  /** Stack lengths at each open MARK. */
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = 0;

  const fail = (problem: string): never => {
    throw new PickleRefusal("E_CHECKPOINT", problem);
  };
  const opName = (op: number): string => OPCODE_NAMES[op] ?? `0x${op.toString(16).padStart(2, "0")}`;
  const take = (n: number, what: string): number => {
    if (n > bytes.length - pos) fail(`truncated: ${what} needs ${n} bytes, ${bytes.length - pos} remain`);
    const at = pos;
    pos += n;
    return at;
  };
  const frameFloor = (): number => marks[marks.length - 1] ?? 0;
  const push = (value: PickleValue): void => {
    if (stack.length >= MAX_PICKLE_STACK) fail(`stack deeper than ${MAX_PICKLE_STACK} values`);
    stack.push(value);
  };
  const pop = (op: number): PickleValue => {
    if (stack.length <= frameFloor()) fail(`stack underflow in ${opName(op)}`);
    return stack.pop()!;
  };
  const top = (op: number): PickleValue => {
    if (stack.length <= frameFloor()) fail(`stack underflow in ${opName(op)}`);
    return stack[stack.length - 1]!;
  };
  const popMark = (op: number): PickleValue[] => {
    const mark = marks.pop();
    if (mark === undefined) fail(`${opName(op)} without a MARK`);
    return stack.splice(mark!);
  };
  const put = (index: number, op: number): void => {
    if (memo.size >= MAX_PICKLE_MEMO && !memo.has(index)) fail(`memo larger than ${MAX_PICKLE_MEMO} values`);
    memo.set(index, top(op));
  };
  const get = (index: number): void => {
    if (!memo.has(index)) fail(`memo entry ${index} is read but was never stored`);
    push(memo.get(index)!);
  };
  const text = (n: number, what: string): string => {
    const at = take(n, what);
    try {
      return utf8.decode(bytes.subarray(at, at + n));
    } catch {
      return fail(`${what} is not valid UTF-8`);
    }
  };
  const line = (what: string): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 1024) fail(`truncated: ${what} has no end of line`);
    const value = ascii.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return value;
  };
  const int = (at: number, n: number): number | bigint => {
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[at + i]!);
    if (n > 0 && (bytes[at + n - 1]! & 0x80) !== 0) value -= 1n << BigInt(8 * n);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  };
  const setItems = (target: PickleValue, items: PickleValue[], op: number): void => {
    if (!(target instanceof PickleDict)) fail(`${opName(op)} on ${describe(target)}, not a dict`);
    const dict = target as PickleDict;
    if (items.length % 2 !== 0) fail(`${opName(op)} with an odd number of items`);
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i]!;
      if (!isKey(key)) fail(`dict key ${describe(key)} is not a string or number`);
      dict.entries.set(key as PickleKey, items[i + 1]!);
    }
  };
  const append = (target: PickleValue, items: PickleValue[], op: number): void => {
    if (!(target instanceof PickleList)) fail(`${opName(op)} on ${describe(target)}, not a list`);
    (target as PickleList).items.push(...items);
  };

  for (;;) {
    onOpcode(pos);
    if (pos >= bytes.length) fail("truncated: the pickle ends before its STOP opcode");
    const op = bytes[pos++]!;
    switch (op) {
      case 0x80: {
        const protocol = bytes[take(1, "PROTO")]!;
        if (protocol > 5) fail(`pickle protocol ${protocol} is newer than any Python writes (at most 5)`);
        break;
      }
      case 0x95: // FRAME: a length hint only
        take(8, "FRAME");
        break;
      case 0x2e: // STOP
        return top(op);
      case 0x28: // MARK
        if (marks.length >= MAX_PICKLE_STACK) fail(`more than ${MAX_PICKLE_STACK} open MARKs`);
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop(op);
        break;
      case 0x31: // POP_MARK
        popMark(op);
        break;
      case 0x32: // DUP
        push(top(op));
        break;
      case 0x4e:
        push(null);
        break;
      case 0x88:
        push(true);
        break;
      case 0x89:
        push(false);
        break;
      case 0x4a: // BININT: signed 32-bit
        push(data.getInt32(take(4, "BININT"), true));
        break;
      case 0x4b: // BININT1: unsigned 8-bit
        push(bytes[take(1, "BININT1")]!);
        break;
      case 0x4d: // BININT2: unsigned 16-bit
        push(data.getUint16(take(2, "BININT2"), true));
        break;
      case 0x8a: {
        const n = bytes[take(1, "LONG1")]!;
        if (n > MAX_INT_BYTES) fail(`LONG1 integer of ${n} bytes is wider than any size or offset`);
        push(int(take(n, "LONG1"), n));
        break;
      }
      case 0x8b: {
        const n = data.getInt32(take(4, "LONG4"), true);
        if (n < 0 || n > MAX_INT_BYTES) fail(`LONG4 integer of ${n} bytes is wider than any size or offset`);
        push(int(take(n, "LONG4"), n));
        break;
      }
      case 0x47: // BINFLOAT: big-endian double
        push(new PickleFloat(data.getFloat64(take(8, "BINFLOAT"), false)));
        break;
      case 0x58:
        push(text(data.getUint32(take(4, "BINUNICODE"), true), "BINUNICODE string"));
        break;
      case 0x8c:
        push(text(bytes[take(1, "SHORT_BINUNICODE")]!, "SHORT_BINUNICODE string"));
        break;
      case 0x8d: {
        const n = data.getBigUint64(take(8, "BINUNICODE8"), true);
        if (n > BigInt(bytes.length - pos)) fail(`truncated: BINUNICODE8 string of ${n} bytes, ${bytes.length - pos} remain`);
        push(text(Number(n), "BINUNICODE8 string"));
        break;
      }
      case 0x29:
        push(new PickleTuple([]));
        break;
      case 0x74:
        push(new PickleTuple(popMark(op)));
        break;
      case 0x85:
      case 0x86:
      case 0x87: {
        const n = op - 0x84;
        if (stack.length - frameFloor() < n) fail(`stack underflow in ${opName(op)}`);
        push(new PickleTuple(stack.splice(stack.length - n)));
        break;
      }
      case 0x5d:
        push(new PickleList());
        break;
      case 0x6c:
        push(new PickleList(popMark(op)));
        break;
      case 0x61: {
        const item = pop(op);
        append(top(op), [item], op);
        break;
      }
      case 0x65: {
        const items = popMark(op);
        append(top(op), items, op);
        break;
      }
      case 0x7d:
        push(new PickleDict());
        break;
      case 0x64: {
        const dict = new PickleDict();
        setItems(dict, popMark(op), op);
        push(dict);
        break;
      }
      case 0x73: {
        const value = pop(op);
        const key = pop(op);
        setItems(top(op), [key, value], op);
        break;
      }
      case 0x75: {
        const items = popMark(op);
        setItems(top(op), items, op);
        break;
      }
      case 0x63: {
        const module = line("GLOBAL module");
        const name = line("GLOBAL name");
        push(hooks.findGlobal(module, name));
        break;
      }
      case 0x93: {
        const name = pop(op);
        const module = pop(op);
        if (typeof module !== "string" || typeof name !== "string") {
          fail(`STACK_GLOBAL needs two strings, got ${describe(module)} and ${describe(name)}`);
        }
        push(hooks.findGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        const args = pop(op);
        const callable = pop(op);
        if (!(args instanceof PickleTuple)) fail(`REDUCE arguments must be a tuple, got ${describe(args)}`);
        push(hooks.reduce(callable, args as PickleTuple));
        break;
      }
      case 0x62: {
        // BUILD sets an object's state. On a state dict (an OrderedDict) that state is its
        // __dict__, {"_metadata": {...}} with module versions: nothing a loader needs.
        const state = pop(op);
        const target = top(op);
        if (!(target instanceof PickleDict)) fail(`BUILD on ${describe(target)}; only a dict's state may be set`);
        void state;
        break;
      }
      case 0x51:
        push(hooks.persistentLoad(pop(op)));
        break;
      case 0x71:
        put(bytes[take(1, "BINPUT")]!, op);
        break;
      case 0x72:
        put(data.getUint32(take(4, "LONG_BINPUT"), true), op);
        break;
      case 0x94:
        put(memo.size, op);
        break;
      case 0x68:
        get(bytes[take(1, "BINGET")]!);
        break;
      case 0x6a:
        get(data.getUint32(take(4, "LONG_BINGET"), true));
        break;
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")}${printable(op)}: not one a PyTorch state dict uses`);
    }
  }
}

function isKey(value: PickleValue): value is PickleKey {
  return value === null || ["string", "number", "bigint", "boolean"].includes(typeof value);
}

function printable(op: number): string {
  return op >= 0x21 && op <= 0x7e ? ` ('${String.fromCharCode(op)}')` : "";
}

/** A few words naming a value's kind, for messages (never its full contents). */
export function describe(value: PickleValue): string {
  if (value === null) return "None";
  if (typeof value === "string") return value.length > 40 ? `a string "${value.slice(0, 37)}..."` : `the string "${value}"`;
  if (typeof value === "number" || typeof value === "bigint") return `the int ${value}`;
  if (typeof value === "boolean") return value ? "True" : "False";
  if (value instanceof PickleFloat) return `the float ${value.value}`;
  if (value instanceof PickleTuple) return `a tuple of ${value.items.length}`;
  if (value instanceof PickleList) return `a list of ${value.items.length}`;
  if (value instanceof PickleDict) return `a dict of ${value.entries.size}`;
  return value.describe();
}

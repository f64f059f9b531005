/**
 * The few globals a torch.save'd state dict names, and what each builds. Nothing is imported
 * or called: a global is a marker object, and REDUCE of one of the three callables below
 * builds a description (a dict, a tensor view of a storage). Any other global is refused the
 * moment the pickle names it, before anything could call it.
 *
 * Accepted: collections.OrderedDict, torch._utils._rebuild_tensor_v2,
 * torch._utils._rebuild_parameter (torch.save of nn.Parameters, e.g. state_dict(keep_vars=True)),
 * and the typed storage classes torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage.
 */
import { describe, PickleDict, PickleObject, PickleRefusal, PickleTuple, type PickleHooks, type PickleValue } from "./pickle.js";

/** Stored dtypes, named as safetensors names them. */
export type TorchDtype = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** Legacy typed-storage class → dtype and bytes per element. */
const STORAGE_CLASSES: Readonly<Record<string, readonly [TorchDtype, number]>> = {
  FloatStorage: ["F32", 4],
  HalfStorage: ["F16", 2],
  BFloat16Storage: ["BF16", 2],
  DoubleStorage: ["F64", 8],
  LongStorage: ["I64", 8],
  IntStorage: ["I32", 4],
  ShortStorage: ["I16", 2],
  CharStorage: ["I8", 1],
  ByteStorage: ["U8", 1],
  BoolStorage: ["BOOL", 1],
};

/**
 * torch globals that a benign checkpoint may name but this reader does not handle. They are
 * refused as E_UNSUPPORTED (not as suspicious), still without being called.
 */
const UNSUPPORTED_TORCH_GLOBALS: Readonly<Record<string, string>> = {
  "torch._utils._rebuild_tensor_v3": "tensors of dtypes without a typed storage (uint16/32/64, float8, ...)",
  "torch.storage.UntypedStorage": "tensors of dtypes without a typed storage (uint16/32/64, float8, ...)",
  "torch._utils._rebuild_parameter_with_state": "parameters carrying extra Python state",
  "torch._tensor._rebuild_from_type_v2": "tensor subclasses or tensors carrying extra Python state",
  "torch._utils._rebuild_wrapper_subclass": "tensor subclasses",
  "torch._utils._rebuild_qtensor": "quantized tensors",
  "torch._utils._rebuild_sparse_tensor": "sparse tensors",
  "torch._utils._rebuild_nested_tensor": "nested tensors",
  "torch._utils._rebuild_meta_tensor_no_storage": "meta tensors without data",
  "torch._utils._rebuild_device_tensor_from_numpy": "tensors saved from numpy on an accelerator",
  "torch.ComplexFloatStorage": "complex tensors",
  "torch.ComplexDoubleStorage": "complex tensors",
  "torch.QInt8Storage": "quantized tensors",
  "torch.QUInt8Storage": "quantized tensors",
  "torch.QInt32Storage": "quantized tensors",
  "torch.QUInt4x2Storage": "quantized tensors",
  "torch.QUInt2x4Storage": "quantized tensors",
};

/** One of the callables a state dict uses. */
export class TorchGlobal extends PickleObject {
  constructor(readonly name: "collections.OrderedDict" | "torch._utils._rebuild_tensor_v2" | "torch._utils._rebuild_parameter") {
    super();
  }
  describe(): string {
    return `the global ${this.name}`;
  }
}

export class TorchStorageClass extends PickleObject {
  constructor(
    readonly name: string,
    readonly dtype: TorchDtype,
    readonly elementSize: number,
  ) {
    super();
  }
  describe(): string {
    return `the storage class torch.${this.name}`;
  }
}

/** A storage named by a persistent id: its bytes are the archive entry data/<key>. */
export class TorchStorage extends PickleObject {
  constructor(
    readonly key: string,
    readonly dtype: TorchDtype,
    readonly elementSize: number,
    /** Elements the pickle says the storage holds (checked against the entry's size later). */
    readonly numel: number,
  ) {
    super();
  }
  describe(): string {
    return `storage "${this.key}"`;
  }
}

/** A tensor view of a storage, as _rebuild_tensor_v2 describes it; bounds are checked later. */
export class TorchTensor extends PickleObject {
  constructor(
    readonly storage: TorchStorage,
    /** In elements. */
    readonly storageOffset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
  ) {
    super();
  }
  describe(): string {
    return "a tensor";
  }
}

/** Makes the refusal for a problem in the pickle (unpickle adds the file, entry and offset). */
type Fault = (problem: string, code?: "E_CHECKPOINT" | "E_UNSUPPORTED") => PickleRefusal;
const fault: Fault = (problem, code = "E_CHECKPOINT") => new PickleRefusal(code, problem);
const bad = (problem: string): PickleRefusal => fault(problem);

/** Hooks for `unpickle` that accept exactly a torch.save'd state dict; make one per pickle. */
export function torchStateDictHooks(): PickleHooks {
  const storages = new Map<string, TorchStorage>();

  return {
    findGlobal(module, name) {
      const full = `${module}.${name}`;
      if (full === "collections.OrderedDict" || full === "torch._utils._rebuild_tensor_v2" || full === "torch._utils._rebuild_parameter") {
        return new TorchGlobal(full);
      }
      const storage = module === "torch" ? STORAGE_CLASSES[name] : undefined;
      if (storage !== undefined) return new TorchStorageClass(name, storage[0], storage[1]);
      const unsupported = UNSUPPORTED_TORCH_GLOBALS[full];
      if (unsupported !== undefined) {
        throw fault(
          `uses ${full}, which torch.save writes for ${unsupported}; only plain tensors can be read (convert the checkpoint to safetensors)`,
          "E_UNSUPPORTED",
        );
      }
      throw bad(
        `refers to the global "${full}", which a PyTorch state dict never uses; refusing to load it (nothing in the file was run)`,
      );
    },

    persistentLoad(pid) {
      // torch.save: ('storage', storage_type, key, location, numel)
      const items = pid instanceof PickleTuple ? pid.items : [];
      const [tag, type, key, location, numel] = items;
      if (items.length !== 5 || tag !== "storage") {
        throw bad(`persistent id ${describe(pid)} is not ('storage', type, key, location, numel)`);
      }
      if (!(type instanceof TorchStorageClass)) throw bad(`persistent id names ${describe(type!)} as its storage type`);
      if (typeof key !== "string" || key === "") throw bad(`persistent id has storage key ${describe(key!)}, expected a string`);
      if (typeof location !== "string") throw bad(`storage "${key}" has location ${describe(location!)}, expected a string`);
      if (!isCount(numel)) throw bad(`storage "${key}" has ${describe(numel!)} elements, expected a non-negative int`);
      const seen = storages.get(key);
      if (seen !== undefined) {
        if (seen.dtype !== type.dtype) {
          throw fault(
            `storage "${key}" is read both as ${seen.dtype} and as ${type.dtype}; tensors of different dtypes sharing one storage are not supported`,
            "E_UNSUPPORTED",
          );
        }
        return seen;
      }
      const storage = new TorchStorage(key, type.dtype, type.elementSize, numel);
      storages.set(key, storage);
      return storage;
    },

    reduce(callable, args) {
      if (!(callable instanceof TorchGlobal)) throw bad(`REDUCE calls ${describe(callable)}, which is not callable here`);
      const a = args.items;
      switch (callable.name) {
        case "collections.OrderedDict":
          if (a.length !== 0) throw bad(`collections.OrderedDict is called with ${a.length} arguments, expected none`);
          return new PickleDict(true);
        case "torch._utils._rebuild_parameter": {
          // (data, requires_grad, backward_hooks): a Parameter is its data here.
          const [data, requiresGrad] = a;
          if (a.length !== 3 || !(data instanceof TorchTensor) || typeof requiresGrad !== "boolean") {
            throw bad(`_rebuild_parameter expects (tensor, requires_grad, hooks), got ${describe(args)}`);
          }
          return data;
        }
        case "torch._utils._rebuild_tensor_v2":
          return rebuildTensor(a);
      }
    },
  };
}

/** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
function rebuildTensor(a: readonly PickleValue[]): TorchTensor {
  if (a.length !== 6 && a.length !== 7) throw bad(`_rebuild_tensor_v2 expects 6 or 7 arguments, got ${a.length}`);
  const [storage, offset, size, stride, requiresGrad, hooks, metadata] = a;
  if (!(storage instanceof TorchStorage)) throw bad(`_rebuild_tensor_v2 is given ${describe(storage!)} as its storage`);
  if (!isCount(offset)) throw bad(`a tensor of storage "${storage.key}" has storage offset ${describe(offset!)}`);
  const sizes = intTuple(size!);
  const strides = intTuple(stride!);
  if (sizes === null) throw bad(`a tensor of storage "${storage.key}" has size ${describe(size!)}, expected a tuple of ints >= 0`);
  if (strides === null || strides.length !== sizes.length) {
    throw bad(`a tensor of storage "${storage.key}" of ${sizes.length} dims has stride ${describe(stride!)}`);
  }
  if (typeof requiresGrad !== "boolean") throw bad(`a tensor of storage "${storage.key}" has requires_grad ${describe(requiresGrad!)}`);
  // Backward hooks are never serialized (torch writes an empty OrderedDict); ignore what is there.
  if (!(hooks instanceof PickleDict) && hooks !== null) throw bad(`a tensor of storage "${storage.key}" has hooks ${describe(hooks!)}`);
  // Metadata (an optional dict) records flags such as conjugation; a plain tensor has none.
  if (metadata !== undefined && metadata !== null && !(metadata instanceof PickleDict && metadata.entries.size === 0)) {
    throw fault(`a tensor of storage "${storage.key}" carries tensor metadata ${describe(metadata)}, which is not supported`, "E_UNSUPPORTED");
  }
  return new TorchTensor(storage, offset, sizes, strides);
}

function intTuple(value: PickleValue): number[] | null {
  if (!(value instanceof PickleTuple) || !value.items.every(isCount)) return null;
  return value.items as number[];
}

function isCount(value: PickleValue | undefined): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

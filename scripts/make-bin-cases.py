#!/usr/bin/env python3
"""Build the PyTorch .bin test cases under tests/fixtures/bin/ (read by tests/torch-bin.test.ts).

    python3 scripts/make-bin-cases.py

Needs torch, transformers and numpy (for making the files only; the package never uses Python).
Each file is a few KB. Benign files get their tensors recorded in expected.json, computed by torch:
name, dtype, shape and the sha256 of the tensor's contiguous little-endian bytes, so the test can
check the bytes at each offset the reader returns.

benign
  f32.bin            torch.save of an OrderedDict with _metadata (pickled as BUILD): a scalar,
                     1-D/2-D/3-D tensors, an empty tensor, a tensor stored twice (tied) and two
                     views of one storage (one at a nonzero storage offset), int64 and bool buffers
  f16.bin            a plain dict holding nn.Parameters (_rebuild_parameter), saved to a file
                     object (archive folder "archive")
  bf16.bin           pickle_protocol=4 (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE)
  many.bin           40 small tensors: memo indices past 255 (LONG_BINPUT / LONG_BINGET)
  zip64.bin          f32.bin's entries rewritten as a ZIP64 archive (what torch writes past 4 GB)
  gpt2/              a tiny random GPT2LMHeadModel as transformers 4.x save_pretrained(
                     safe_serialization=False) wrote it: torch.save(model.state_dict()) to
                     pytorch_model.bin, plus config.json. transformers 5 ignores that flag and
                     always writes safetensors, so the old code path is reproduced here.
  gpt2-sharded/      the same model in three pytorch_model-0000k-of-00003.bin shards (plain dicts
                     of .contiguous() tensors, as transformers 4.x sharded) + pytorch_model.bin.index.json

refused, never run (the malicious pickles are assembled from bytes or pickled, not executed;
each would create MARKER if it ran)
  malicious-*.bin    zips in torch's layout whose data.pkl calls posix.system / os.system /
                     builtins.eval / builtins.exec / subprocess.Popen / builtins.getattr, via GLOBAL
                     or STACK_GLOBAL, after real tensors, or as a persistent id's storage type
  transposed.bin     a non-contiguous view saved directly
  big-endian.bin     f32.bin with byteorder "big"
  compressed.bin     f32.bin with its storages deflated
  legacy.bin         _use_new_zipfile_serialization=False (the pre-1.6 format)
  truncated.bin      f32.bin cut in half
  short-size.bin     a tensor whose pickled size runs past its storage
  short-entry.bin    a storage entry cut shorter than its tensor
"""
import collections
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import zipfile
import zlib

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "bin")
MARKER = "/tmp/gpt-cuda-torch-bin-marker"
DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64", torch.bool: "BOOL"}


def describe(sd):
    """What the reader must return for a state dict, computed by torch."""
    out = []
    for name, t in sd.items():
        t = t.detach().contiguous()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() > 0 else b""
        out.append({"name": name, "dtype": DTYPES[t.dtype], "shape": list(t.shape), "sha256": hashlib.sha256(raw).hexdigest()})
    return out


def save(sd, path, **kwargs):
    torch.save(sd, path, **kwargs)
    # A round trip through torch's own loader: the benign files are what torch reads. Its safe
    # (weights_only) unpickler knows no protocol-4 FRAME; this file is our own, so the full one is fine.
    back = torch.load(path, weights_only="pickle_protocol" not in kwargs)
    assert list(back.keys()) == list(sd.keys()), path
    return describe(sd)


# --- a zip writer laid out like torch's (stored entries, data aligned to 64 bytes) ---------------

def write_zip(path, entries, zip64=False, deflate=()):
    """entries: [(name, bytes)]. Names in `deflate` are compressed; zip64 writes every size and
    offset through ZIP64 extra fields and a ZIP64 end record."""
    out = bytearray()
    central = []
    for name, data in entries:
        raw_name = name.encode()
        method, stored = (8, zlib.compress(data, 9, -15)) if name in deflate else (0, data)
        crc = zlib.crc32(data)
        offset = len(out)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(stored)) if zip64 else b""
        pad = (-(offset + 30 + len(raw_name) + len(extra) + 4)) % 64
        extra += struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # torch's "FB" padding field
        size32 = 0xFFFFFFFF if zip64 else len(data)
        csize32 = 0xFFFFFFFF if zip64 else len(stored)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, method, 0, 0, crc, csize32, size32, len(raw_name), len(extra))
        out += raw_name + extra + stored
        central.append((raw_name, method, crc, len(stored), len(data), offset))
    cd_offset = len(out)
    for raw_name, method, crc, csize, size, offset in central:
        if zip64:
            extra = struct.pack("<HHQQQ", 1, 24, size, csize, offset)
            fields = (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
        else:
            extra = b""
            fields = (csize, size, offset)
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45 if zip64 else 20, 0, method, 0, 0, crc,
                           fields[0], fields[1], len(raw_name), len(extra), 0, 0, 0, 0, fields[2])
        out += raw_name + extra
    cd_size = len(out) - cd_offset
    n = len(central)
    if zip64:
        zip64_at = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_offset)
        out += struct.pack("<IIQI", 0x07064B50, 0, zip64_at, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cd_size, cd_offset, 0)
    with open(path, "wb") as f:
        f.write(out)


def entries_of(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def torch_layout(path, pkl, storages=(), archive="archive"):
    """A zip in torch's layout around a hand-made data.pkl."""
    entries = [(f"{archive}/data.pkl", pkl), (f"{archive}/byteorder", b"little")]
    entries += [(f"{archive}/data/{k}", v) for k, v in storages]
    entries += [(f"{archive}/version", b"3\n")]
    write_zip(path, entries)


# --- pickle assembly, for the refused cases ---------------------------------------------------

def uni(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def glob(module, name):
    return b"c" + f"{module}\n{name}\n".encode()


class Reduce:
    """Pickles as REDUCE(func, args) without ever calling func: pickle only records the pair."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def touch_cmd():
    return f"touch {MARKER}"


def main():
    torch.manual_seed(20240613)
    torch.set_num_threads(1)
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(ROOT)
    expected = {}

    def p(*names):
        return os.path.join(ROOT, *names)

    # f32: every shape, tied tensors, views at storage offsets, non-float buffers.
    base = torch.randn(24)
    sd = collections.OrderedDict()
    sd["scalar"] = torch.tensor(1.5)
    sd["vector"] = torch.randn(5)
    sd["matrix"] = torch.randn(3, 4)
    sd["cube"] = torch.randn(2, 3, 2)
    sd["empty"] = torch.zeros(0, 4)
    sd["tied.a"] = sd["matrix"]
    sd["tied.b"] = sd["matrix"]
    sd["view.head"] = base[:6].view(2, 3)
    sd["view.offset"] = base[10:22].view(3, 4)  # nonzero storage_offset into the same storage
    sd["view.row"] = base[4:5].view(1, 1)  # size-1 dims: their strides do not matter
    sd["position_ids"] = torch.arange(6).view(1, 6)
    sd["mask"] = torch.tensor([True, False, True])
    sd._metadata = collections.OrderedDict({"": {"version": 1}, "view": {"version": 2}})
    expected["f32.bin"] = save(sd, p("f32.bin"))

    # f16: a plain dict of Parameters, saved to a file object.
    sd16 = {
        "weight": torch.nn.Parameter(torch.randn(4, 3).half()),
        "bias": torch.nn.Parameter(torch.randn(3).half(), requires_grad=False),
        "scale": torch.randn(()).half(),
    }
    buf = io.BytesIO()
    torch.save(sd16, buf)
    with open(p("f16.bin"), "wb") as f:
        f.write(buf.getvalue())
    assert list(torch.load(p("f16.bin"), weights_only=True)) == list(sd16)
    expected["f16.bin"] = describe(sd16)

    # bf16: protocol 4.
    sdbf = collections.OrderedDict(a=torch.randn(2, 2, 2).bfloat16(), b=torch.randn(7).bfloat16())
    sdbf["c"] = sdbf["a"][1]  # a view at offset 4 of a's storage
    expected["bf16.bin"] = save(sdbf, p("bf16.bin"), pickle_protocol=4)

    many = collections.OrderedDict((f"layer.{i}.w", torch.randn(2)) for i in range(40))
    expected["many.bin"] = save(many, p("many.bin"))

    write_zip(p("zip64.bin"), entries_of(p("f32.bin")), zip64=True)
    assert list(torch.load(p("zip64.bin"), weights_only=True)) == list(sd)
    expected["zip64.bin"] = expected["f32.bin"]

    # gpt2: what transformers 4.x save_pretrained(safe_serialization=False) wrote.
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=2, n_head=2, n_embd=8, n_positions=8, vocab_size=16, bos_token_id=15, eos_token_id=15)
    model = GPT2LMHeadModel(config).eval()
    state = model.state_dict()
    assert state["lm_head.weight"].data_ptr() == state["transformer.wte.weight"].data_ptr()  # tied
    os.makedirs(p("gpt2"))
    config.save_pretrained(p("gpt2"))
    expected["gpt2/pytorch_model.bin"] = save(state, p("gpt2", "pytorch_model.bin"))

    os.makedirs(p("gpt2-sharded"))
    config.save_pretrained(p("gpt2-sharded"))
    names = list(state)
    thirds = [names[: len(names) // 3], names[len(names) // 3 : 2 * len(names) // 3], names[2 * len(names) // 3 :]]
    weight_map = {}
    total = 0
    for k, part in enumerate(thirds, 1):
        shard_name = f"pytorch_model-{k:05d}-of-00003.bin"
        shard = {n: state[n].contiguous() for n in part}
        expected[f"gpt2-sharded/{shard_name}"] = save(shard, p("gpt2-sharded", shard_name))
        weight_map.update({n: shard_name for n in part})
        total += sum(t.numel() * t.element_size() for t in shard.values())
    with open(p("gpt2-sharded", "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)

    # --- refused cases ---
    torch.save({"t": torch.randn(3, 4).t()}, p("transposed.bin"))

    f32 = entries_of(p("f32.bin"))
    write_zip(p("big-endian.bin"), [(n, b"big" if n.endswith("/byteorder") else d) for n, d in f32])
    write_zip(p("compressed.bin"), f32, deflate={n for n, _ in f32 if "/data/" in n})
    torch.save({"a": torch.ones(2)}, p("legacy.bin"), _use_new_zipfile_serialization=False)
    raw = open(p("f32.bin"), "rb").read()
    open(p("truncated.bin"), "wb").write(raw[: len(raw) // 2])

    # short-size: v has 6 elements; the pickle is edited to claim 9.
    torch.save({"v": torch.randn(6)}, p("short-size.bin"))
    entries = entries_of(p("short-size.bin"))
    pkl_name, pkl = entries[0]
    edited = pkl.replace(b"K\x06\x85", b"K\x09\x85")
    assert edited != pkl and edited.count(b"K\x09\x85") == 1
    write_zip(p("short-size.bin"), [(pkl_name, edited)] + entries[1:])

    # short-entry: w's storage entry cut from 16 to 10 elements.
    torch.save({"w": torch.randn(4, 4)}, p("short-entry.bin"))
    entries = [(n, d[:40] if "/data/" in n and not n.endswith(".pkl") else d) for n, d in entries_of(p("short-entry.bin"))]
    write_zip(p("short-entry.bin"), entries)

    # Malicious: would create MARKER if unpickled by pickle.load / torch.load(weights_only=False).
    cmd = touch_cmd()
    tensor = torch.randn(3)
    good_storage = tensor.numpy().tobytes()
    # A real tensor first (the reader must still refuse before reaching the payload's REDUCE).
    rebuild = (
        glob("torch._utils", "_rebuild_tensor_v2")
        + b"(" + b"(" + uni("storage") + glob("torch", "FloatStorage") + uni("0") + uni("cpu") + b"K\x03t" + b"Q"
        + b"K\x00" + b"K\x03\x85" + b"K\x01\x85" + b"\x89" + glob("collections", "OrderedDict") + b")R" + b"tR"
    )

    def payload_dict(payload):
        return b"\x80\x02}(" + uni("weight") + rebuild + uni("evil") + payload + b"u."

    torch_layout(p("malicious-posix-system.bin"), pickle.dumps({"evil": Reduce(os.system, (cmd,))}, protocol=2))
    torch_layout(p("malicious-os-system.bin"), payload_dict(glob("os", "system") + uni(cmd) + b"\x85R"), [("0", good_storage)])
    torch_layout(p("malicious-eval.bin"), payload_dict(glob("builtins", "eval") + uni(f"__import__('os').system({cmd!r})") + b"\x85R"), [("0", good_storage)])
    torch_layout(p("malicious-exec.bin"), payload_dict(glob("builtins", "exec") + uni(f"import os; os.system({cmd!r})") + b"\x85R"), [("0", good_storage)])
    # fix_imports=False: protocol 2 would otherwise write Python 2's name for it, commands.Popen.
    popen = pickle.dumps({"evil": Reduce(subprocess.Popen, (["touch", MARKER],))}, protocol=2, fix_imports=False)
    torch_layout(p("malicious-popen.bin"), popen)
    torch_layout(
        p("malicious-getattr.bin"),
        payload_dict(glob("builtins", "getattr") + glob("builtins", "__import__") + uni("os") + b"\x85R" + uni("system") + b"\x86R" + uni(cmd) + b"\x85R"),
        [("0", good_storage)],
    )
    torch_layout(p("malicious-stack-global.bin"), pickle.dumps({"evil": Reduce(os.system, (cmd,))}, protocol=4))
    # The payload as the storage type of a persistent id, inside an otherwise real tensor.
    persid = payload_dict(b"N").replace(glob("torch", "FloatStorage"), glob("posix", "system"))
    torch_layout(p("malicious-storage-type.bin"), persid, [("0", good_storage)])
    # torch.save itself writing an object whose reduce is os.system, beside a real tensor.
    torch.save(collections.OrderedDict(w=tensor, evil=Reduce(os.system, (cmd,))), p("malicious-torch-save.bin"))

    with open(p("expected.json"), "w") as f:
        # One line per tensor: small, and diffs read well.
        files = ",\n".join(
            f'  {json.dumps(name)}: [\n' + ",\n".join(f"    {json.dumps(t)}" for t in tensors) + "\n  ]"
            for name, tensors in expected.items()
        )
        f.write(f'{{"torch": {json.dumps(torch.__version__)}, "marker": {json.dumps(MARKER)}, "tensors": {{\n{files}\n}}}}\n')
    sizes = {n: os.path.getsize(os.path.join(d, n)) for d, _, files in os.walk(ROOT) for n in files}
    print(f"wrote {len(sizes)} files to {os.path.relpath(ROOT)}, largest {max(sizes.values())} bytes")
    assert not os.path.exists(MARKER)


if __name__ == "__main__":
    main()

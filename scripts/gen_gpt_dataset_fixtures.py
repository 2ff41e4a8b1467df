#!/usr/bin/env python3
"""Writes test/fixtures/gptdata/gpt_indices.json.gz: expected GPT dataset indices for many random
configurations, computed by a plain Python statement of Megatron's algorithm (numpy's
RandomState for every shuffle, Python round() for split bounds). The C++ tests compare their
indices to these exactly; CI needs no Python.

The "real" cases read Megatron-written .bin/.idx files of the shared test data
($MEGATRON_TEST_DATA, default ../shared/data next to the repository).

Usage: python3 scripts/gen_gpt_dataset_fixtures.py [output.json.gz]
Needs numpy (the RandomState shuffles are the point).
"""
import gzip
import json
import math
import os
import re
import sys

import numpy

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
FULL_ARRAY_LIMIT = 3000  # longer arrays are stored as length + digest + head


def fnv1a64(values):
    """FNV-1a over the little-endian int64 bytes of `values` (the C++ test computes the same)."""
    data = numpy.asarray(values, dtype=numpy.int64).astype("<i8").tobytes()
    h = FNV_OFFSET
    for byte in data:
        h ^= byte
        h = (h * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return format(h, "016x")


def encode_array(values):
    values = [int(v) for v in numpy.asarray(values).reshape(-1)]
    if len(values) <= FULL_ARRAY_LIMIT:
        return {"values": values}
    return {"length": len(values), "fnv1a64": fnv1a64(values), "head": values[:32]}


# ---- the algorithm, stated from the reference text ------------------------------------------

def split_matrix(split):
    weights = [float(x) for x in re.findall(r"[.0-9]+", split)]
    weights += [0.0] * (3 - len(weights))
    total = sum(weights)
    weights = [w / total for w in weights]
    bookends = [0.0]
    for w in weights:
        bookends.append(bookends[-1] + w)
    return [(bookends[k], bookends[k + 1]) if bookends[k + 1] > bookends[k] else None
            for k in range(3)]


def split_range(fraction, n):
    return int(round(fraction[0] * float(n))), int(round(fraction[1] * float(n)))


def gpt_indices(sizes, begin, end, seq_length, num_samples, seed, drop_last):
    ids = numpy.arange(begin, end, dtype=numpy.int32)
    tokens = int(numpy.sum(sizes[ids]))
    assert tokens > 0
    epochs = 1
    if num_samples is not None:
        while epochs * tokens < num_samples * seq_length + 1:
            epochs += 1
    separate = False
    before = 0
    if epochs > 1:
        before = ((epochs - 1) * tokens - 1) // seq_length
        last = num_samples - before
        per_epoch = (tokens - 1) // seq_length
        separate = last < int(0.80 * per_epoch)
    rng = numpy.random.RandomState(seed)

    def documents(e):
        d = numpy.tile(ids, e).astype(numpy.int32)
        rng.shuffle(d)
        return d

    if separate:
        doc = numpy.concatenate([documents(epochs - 1), documents(1)])
    else:
        doc = documents(epochs)

    total = epochs * tokens - 1
    n = total // seq_length if drop_last else int(math.ceil(numpy.float32(total) / numpy.float32(seq_length)))
    rows = [(0, 0)]
    d, off = 0, 0
    for _ in range(n):
        need = seq_length + 1
        while True:
            remaining = int(sizes[doc[d]]) - off
            if remaining >= need:
                off += need - 1
                break
            need -= remaining
            if d == len(doc) - 1:
                off = int(sizes[doc[d]]) - 1
                break
            d += 1
            off = 0
        rows.append((d, off))

    def shuffled(a, b):
        r = numpy.arange(a, b, dtype=numpy.int64)
        rng.shuffle(r)
        return r

    shuffle = (numpy.concatenate([shuffled(0, before), shuffled(before, n)]) if separate
               else shuffled(0, n))
    return {"tokens_per_epoch": tokens, "num_epochs": epochs, "separate_final_epoch": separate,
            "document_index": doc, "sample_index": numpy.array(rows, dtype=numpy.int64),
            "shuffle_index": shuffle}


def sample_tokens(sizes, offsets_of, res, j, seq_length, pad):
    """Tokens of item j when sequence s holds the ids offsets_of(s) + [0, sizes[s])."""
    doc, rows, shuffle = res["document_index"], res["sample_index"], res["shuffle_index"]
    k = shuffle[j]
    (d0, o0), (d1, o1) = rows[k], rows[k + 1]
    text = []
    for d in range(d0, d1 + 1):
        seq = int(doc[d])
        start = o0 if d == d0 else 0
        stop = o1 + 1 if d == d1 else int(sizes[seq])
        text += [offsets_of(seq) + t for t in range(start, stop)]
    text += [pad] * (seq_length + 1 - len(text))
    return text


def blending(weights, size):
    counts = [0] * len(weights)
    index, sample = [], []
    for k in range(size):
        x = max(k, 1)
        errors = [w * x - c for w, c in zip(weights, counts)]
        i = errors.index(max(errors))
        index.append(i)
        sample.append(counts[i])
        counts[i] += 1
    return index, sample


def exhaustive_blending(sizes):
    total = sum(sizes)
    weights = [s / total for s in sizes]
    counts = [0] * len(sizes)
    index, sample = [], []
    for k in range(total):
        x = max(k, 1)
        best, best_error = None, None
        for i in range(len(sizes)):
            if counts[i] == sizes[i]:
                continue
            e = weights[i] * x - counts[i]
            if best is None or e > best_error:
                best, best_error = i, e
        index.append(best)
        sample.append(counts[best])
        counts[best] += 1
    return index, sample


# ---- random configurations --------------------------------------------------------------------

def lengths_spec(rng):
    n = int(rng.choice([1, 2, 7, 40, 300, 1500, 4000]))
    max_len = int(rng.choice([1, 3, 20, 200, 900]))
    if max_len == 1 and n < 5:
        max_len = 3
    if n <= 1500:
        return {"values": [int(x) for x in rng.randint(1, max_len + 1, size=n)]}
    return {"formula": [int(rng.randint(1, 10000)), int(rng.randint(0, 1000)), max_len], "count": n}


def materialise(spec):
    if "values" in spec:
        return numpy.array(spec["values"], dtype=numpy.int32)
    a, c, m = spec["formula"]
    i = numpy.arange(spec["count"], dtype=numpy.int64)
    return (1 + (a * i + c) % m).astype(numpy.int32)


SPLITS = ["969,30,1", "99,1,0", "1,1,1", "100,0,0", "0,1,0", "949,50,1", "80, 10, 10", "2,0,1",
          "0.7,0.2,0.1", "5"]


def gpt_case(rng, index):
    spec = lengths_spec(rng)
    sizes = materialise(spec)
    split = SPLITS[index % len(SPLITS)] if index % 3 else ",".join(
        str(int(x)) for x in rng.randint(0, 10, size=3))
    if split in ("0,0,0",):
        split = "1,0,0"
    matrix = split_matrix(split)
    seq_length = int(rng.choice([2, 3, 8, 31, 128, 257]))
    seed = int(rng.randint(0, 2**31))
    tokens = int(sizes.sum())
    per_epoch = max(1, (tokens - 1) // seq_length)
    splits = []
    for k, fraction in enumerate(matrix):
        if fraction is None:
            splits.append(None)
            continue
        beg, end = split_range(fraction, len(sizes))
        split_tokens = int(sizes[beg:end].sum())
        if split_tokens < 2:
            splits.append({"begin": beg, "end": end, "empty": True})
            continue
        split_per_epoch = max(1, (split_tokens - 1) // seq_length)
        mode = int(rng.randint(0, 5))
        if mode == 0:
            num = None
        elif mode == 1:
            num = int(rng.randint(0, split_per_epoch + 1))  # one epoch
        else:  # several epochs, final epoch sometimes nearly full, sometimes small
            epochs = int(rng.randint(1, 12 if split_tokens > 1000 else 40))
            num = epochs * split_per_epoch + int(rng.randint(0, split_per_epoch + 1))
            num = min(num, 400000)
        drop_last = True if k != 1 else bool(rng.randint(0, 2))
        res = gpt_indices(sizes, beg, end, seq_length, num, seed, drop_last)
        n = len(res["shuffle_index"])
        picks = sorted({int(x) for x in rng.randint(0, n, size=min(n, 6))}) if n else []
        samples = {str(j): sample_tokens(sizes, lambda s: 1000 * s, res, j, seq_length, -1)
                   for j in picks}
        splits.append({"begin": beg, "end": end, "num_samples": num, "drop_last": drop_last,
                       "tokens_per_epoch": res["tokens_per_epoch"],
                       "num_epochs": res["num_epochs"],
                       "separate_final_epoch": bool(res["separate_final_epoch"]),
                       "document_index": encode_array(res["document_index"]),
                       "sample_index": encode_array(res["sample_index"]),
                       "shuffle_index": encode_array(res["shuffle_index"]),
                       "samples": samples})
    return {"lengths": spec, "split": split, "seq_length": seq_length, "seed": seed,
            "splits": splits}


def big_case():
    spec = {"formula": [7919, 13, 700], "count": 100000}
    sizes = materialise(spec)
    out = []
    per_epoch = (int(sizes.sum()) - 1) // 128
    # one epoch; 2 epochs + a small separate final one; 3 epochs with a nearly full last one
    for num, seed in ((None, 1234), (2 * per_epoch + per_epoch // 10, 5), (3 * per_epoch - 10, 1234)):
        res = gpt_indices(sizes, 0, len(sizes), 128, num, seed, True)
        out.append({"num_samples": num, "seed": seed, "tokens_per_epoch": res["tokens_per_epoch"],
                    "num_epochs": res["num_epochs"],
                    "separate_final_epoch": bool(res["separate_final_epoch"]),
                    "document_index": encode_array(res["document_index"]),
                    "sample_index": encode_array(res["sample_index"]),
                    "shuffle_index": encode_array(res["shuffle_index"])})
    return {"lengths": spec, "seq_length": 128, "runs": out}


def shuffle_cases(rng):
    cases = []
    for n in (0, 1, 2, 3, 10, 1000, 65536, 100000):
        seed = int(rng.randint(0, 2**32 - 1, dtype=numpy.int64))
        r = numpy.random.RandomState(seed)
        a = numpy.arange(n, dtype=numpy.int64)
        r.shuffle(a)
        b = numpy.arange(n // 3, dtype=numpy.int64)
        r.shuffle(b)  # a second shuffle continuing on the same generator
        cases.append({"n": n, "seed": seed, "first": encode_array(a), "second": encode_array(b)})
    return cases


def split_cases():
    cases = []
    for split in SPLITS + ["99,1", "1/2/3", "0.3333,0.3333,0.3334", "1,2,3"]:
        for n in (1, 2, 3, 10, 99, 1001, 20000, 123457):
            matrix = split_matrix(split)
            cases.append({"split": split, "n": n,
                          "ranges": [None if f is None else list(split_range(f, n))
                                     for f in matrix]})
    return cases


def blend_cases(rng):
    cases = []
    for i in range(40):
        k = int(rng.randint(1, 6))
        raw = [float(x) for x in rng.randint(1, 100, size=k)]
        total = numpy.sum(numpy.array(raw, dtype=numpy.float64))
        weights = (numpy.array(raw, dtype=numpy.float64) / total).tolist()
        size = int(rng.choice([0, 1, 2, 10, 997, 20000]))
        index, sample = blending(weights, size)
        requests = [int(math.ceil(math.ceil(size * w) * 1.005)) for w in weights]
        cases.append({"raw_weights": raw, "weights": weights, "size": size,
                      "dataset_index": encode_array(index),
                      "dataset_sample_index": encode_array(sample),
                      "component_requests": requests,
                      "component_targets": [int(math.ceil(size * w)) for w in weights]})
    exhaustive = []
    for i in range(10):
        k = int(rng.randint(1, 5))
        sizes = [int(x) for x in rng.randint(1, 800, size=k)]
        index, sample = exhaustive_blending(sizes)
        exhaustive.append({"sizes": sizes, "dataset_index": encode_array(index),
                           "dataset_sample_index": encode_array(sample)})
    return cases, exhaustive


# ---- Megatron-written datasets of the shared test data ------------------------------------------

DTYPES = {1: numpy.uint8, 2: numpy.int8, 3: numpy.int16, 4: numpy.int32, 5: numpy.int64,
          6: numpy.float64, 7: numpy.float32, 8: numpy.uint16}


def read_indexed(prefix):
    """(sequence lengths, token array, token offsets) of an MMIDIDX dataset."""
    idx = open(prefix + ".idx", "rb").read()
    assert idx[:9] == b"MMIDIDX\x00\x00"
    dtype = DTYPES[idx[17]]
    count = int.from_bytes(idx[18:26], "little")
    lengths = numpy.frombuffer(idx, dtype=numpy.int32, count=count, offset=34)
    pointers = numpy.frombuffer(idx, dtype=numpy.int64, count=count, offset=34 + 4 * count)
    tokens = numpy.fromfile(prefix + ".bin", dtype=dtype)
    offsets = pointers // numpy.dtype(dtype).itemsize
    return lengths, tokens, offsets


class RealSplit:
    def __init__(self, data, begin, end, seq_length, num_samples, seed):
        self.lengths, self.tokens, self.offsets = data
        self.seq_length = seq_length
        self.res = gpt_indices(self.lengths, begin, end, seq_length, num_samples, seed, True)

    def __len__(self):
        return len(self.res["shuffle_index"])

    def item_ids(self, j):
        doc, rows, shuffle = self.res["document_index"], self.res["sample_index"], self.res["shuffle_index"]
        k = shuffle[j]
        (d0, o0), (d1, o1) = rows[k], rows[k + 1]
        ids = []
        for d in range(d0, d1 + 1):
            seq = int(doc[d])
            start = o0 if d == d0 else 0
            stop = o1 + 1 if d == d1 else int(self.lengths[seq])
            base = int(self.offsets[seq])
            ids += [int(t) for t in self.tokens[base + start:base + stop]]
        return ids + [-1] * (self.seq_length + 1 - len(ids))


def real_cases():
    root = os.environ.get("MEGATRON_TEST_DATA") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
    names = {"fortunes": "fixtures/megatron/fortunes-gpt2_text_document",
             "unicode": "fixtures/megatron/unicode-1-gpt2_text_document"}
    data = {k: read_indexed(os.path.join(root, v)) for k, v in names.items()}
    rng = numpy.random.RandomState(7)
    cases = []
    # One dataset, three splits (train: two epochs, separate final epoch); a weighted blend.
    configs = [
        {"data_path": [names["fortunes"]], "weights": None, "split": "969,30,1", "seq_length": 64,
         "seed": 1234, "num_samples": [13000, None, 10]},
        {"data_path": [names["fortunes"], names["unicode"]], "weights": [30.0, 70.0],
         "split": "98,2,0", "seq_length": 32, "seed": 7, "num_samples": [5000, 100, None]},
    ]
    for config in configs:
        keys = ["fortunes", "unicode"][:len(config["data_path"])]
        matrix = split_matrix(config["split"])
        splits = []
        for k in range(3):
            n = config["num_samples"][k]
            if matrix[k] is None:
                splits.append(None)
                continue
            if config["weights"] is None:
                data_k = data[keys[0]]
                beg, end = split_range(matrix[k], len(data_k[0]))
                ds = RealSplit(data_k, beg, end, config["seq_length"], n, config["seed"])
                size, item = len(ds), ds.item_ids
            else:
                w = numpy.array(config["weights"], dtype=numpy.float64)
                w = (w / numpy.sum(w)).tolist()
                components = []
                for key, weight in zip(keys, w):
                    beg, end = split_range(matrix[k], len(data[key][0]))
                    request = int(math.ceil(math.ceil(n * weight) * 1.005))
                    components.append(RealSplit(data[key], beg, end, config["seq_length"], request,
                                                config["seed"]))
                size = sum(int(math.ceil(n * weight)) for weight in w)
                index, sample = blending(w, size)
                item = lambda j, c=components, i=index, s=sample: c[i[j]].item_ids(s[j])
            picks = sorted({0, 1, size - 1, *[int(x) for x in rng.randint(0, size, size=4)]})
            splits.append({"size": size, "samples": {str(j): item(j) for j in picks}})
        cases.append({**config, "splits": splits})
    return cases


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/gptdata/gpt_indices.json.gz"
    rng = numpy.random.RandomState(20260826)
    blends, exhaustive = blend_cases(rng)
    fixture = {
        "generator": "scripts/gen_gpt_dataset_fixtures.py",
        "numpy": numpy.__version__,
        "shuffles": shuffle_cases(rng),
        "splits": split_cases(),
        "gpt": [gpt_case(rng, i) for i in range(120)],
        "big": big_case(),
        "blends": blends,
        "exhaustive_blends": exhaustive,
        "real": real_cases(),
    }
    with gzip.GzipFile(out_path, "wb", mtime=0) as f:
        f.write(json.dumps(fixture, separators=(",", ":")).encode())


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generates data/unicode/unicode_tables.cpp from the Unicode Character Database.

Usage: scripts/gen_unicode_tables.py [UCD_DIR] [OUTPUT]
  UCD_DIR defaults to /usr/share/unicode (Debian's unicode-data package, Unicode 15.0);
  OUTPUT defaults to data/unicode/unicode_tables.cpp next to this script's repository.

The output is committed, so building the project never runs Python. Tables:
  - character classes (letter \\p{L}, number \\p{N}, White_Space \\s) as a two-level table:
    one byte per 256-code-point block naming a unique 256-entry block of class bits;
  - canonical combining classes as sorted ranges;
  - full canonical decompositions (recursively expanded, Hangul excluded: it is algorithmic);
  - primary composites (canonical pairs that are not Full_Composition_Exclusion);
  - code points whose NFC_Quick_Check is No or Maybe, as sorted ranges;
  - code points assigned after Unicode 9.0 (DerivedAge.txt), as sorted ranges: Hugging Face
    tokenizers normalizes with Unicode 9.0 data, where those code points are unassigned.
"""
import os
import re
import sys

MAX_CP = 0x110000
BLOCK = 256


def read_unicode_data(ucd):
    """Yields (code point, fields) for every code point UnicodeData.txt assigns, ranges expanded."""
    lines = open(os.path.join(ucd, "UnicodeData.txt"), encoding="utf-8").read().splitlines()
    i = 0
    while i < len(lines):
        fields = lines[i].split(";")
        cp = int(fields[0], 16)
        if fields[1].endswith(", First>"):
            last = int(lines[i + 1].split(";")[0], 16)
            for c in range(cp, last + 1):
                yield c, fields
            i += 2
        else:
            yield cp, fields
            i += 1


def read_property_ranges(path, name, value=None):
    """Code points listed with property `name` (and `value`, for "cp ; NFC_QC; N" lines)."""
    result = set()
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(";")]
        if parts[1] != name or (value is not None and (len(parts) < 3 or parts[2] != value)):
            continue
        span = parts[0].split("..")
        result.update(range(int(span[0], 16), int(span[-1], 16) + 1))
    return result


def ranges_of(sorted_cps):
    """[(first, last)] covering a sorted list of code points."""
    out = []
    for c in sorted_cps:
        if out and out[-1][1] + 1 == c:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ucd = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode"
    output = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "data", "unicode",
                                                                 "unicode_tables.cpp")
    header = open(os.path.join(ucd, "DerivedNormalizationProps.txt"), encoding="utf-8").readline()
    version = re.search(r"-(\d+\.\d+\.\d+)\.txt", header).group(1)

    classes = bytearray(MAX_CP)
    ccc = {}
    decomposition = {}
    for cp, fields in read_unicode_data(ucd):
        category = fields[2]
        if category[0] == "L":
            classes[cp] |= 1
        elif category[0] == "N":
            classes[cp] |= 2
        if int(fields[3]) != 0:
            ccc[cp] = int(fields[3])
        if fields[5] and not fields[5].startswith("<"):
            decomposition[cp] = [int(x, 16) for x in fields[5].split()]
    for cp in read_property_ranges(os.path.join(ucd, "PropList.txt"), "White_Space"):
        classes[cp] |= 4

    derived = os.path.join(ucd, "DerivedNormalizationProps.txt")
    exclusions = read_property_ranges(derived, "Full_Composition_Exclusion")
    nfc_not_yes = (read_property_ranges(derived, "NFC_QC", "N") |
                   read_property_ranges(derived, "NFC_QC", "M"))

    def expand(cp):
        if cp not in decomposition:
            return [cp]
        return [d for part in decomposition[cp] for d in expand(part)]

    assigned_after_9 = set()
    for line in open(os.path.join(ucd, "DerivedAge.txt"), encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        span, age = [p.strip() for p in line.split(";")]
        if tuple(int(x) for x in age.split(".")) > (9, 0):
            bounds = span.split("..")
            assigned_after_9.update(range(int(bounds[0], 16), int(bounds[-1], 16) + 1))

    full = {cp: expand(cp) for cp in decomposition}
    compositions = sorted((parts[0], parts[1], cp) for cp, parts in decomposition.items()
                          if len(parts) == 2 and cp not in exclusions)

    # Two-level class table.
    blocks = []
    block_index = {}
    stage1 = []
    for start in range(0, MAX_CP, BLOCK):
        block = bytes(classes[start:start + BLOCK])
        if block not in block_index:
            block_index[block] = len(blocks)
            blocks.append(block)
        stage1.append(block_index[block])
    assert len(blocks) < 256

    out = []
    w = out.append
    w("// Generated by scripts/gen_unicode_tables.py from the Unicode Character Database %s." % version)
    w("// Do not edit by hand: rerun the script instead.")
    w('#include "data/unicode/unicode_tables.h"')
    w("")
    w("namespace mcpp::data::unicode::tables {")
    w("")
    w('const char kUnicodeVersion[] = "%s";' % version)
    w("")
    w("const uint8_t kClassBlockIndex[%d] = {" % len(stage1))
    for i in range(0, len(stage1), 32):
        w("    " + ",".join(str(x) for x in stage1[i:i + 32]) + ",")
    w("};")
    w("")
    w("const uint8_t kClassBlocks[%d][%d] = {" % (len(blocks), BLOCK))
    for block in blocks:
        w("    {" + ",".join(str(x) for x in block) + "},")
    w("};")
    w("")
    ccc_ranges = []
    for cp in sorted(ccc):
        if ccc_ranges and ccc_ranges[-1][1] + 1 == cp and ccc_ranges[-1][2] == ccc[cp]:
            ccc_ranges[-1][1] = cp
        else:
            ccc_ranges.append([cp, cp, ccc[cp]])
    w("const CombiningClassRange kCombiningClasses[%d] = {" % len(ccc_ranges))
    for first, last, value in ccc_ranges:
        w("    {0x%X, 0x%X, %d}," % (first, last, value))
    w("};")
    w("const size_t kCombiningClassCount = %d;" % len(ccc_ranges))
    w("")
    data = []
    entries = []
    for cp in sorted(full):
        entries.append((cp, len(data), len(full[cp])))
        data.extend(full[cp])
    w("const char32_t kDecompositionData[%d] = {" % len(data))
    for i in range(0, len(data), 12):
        w("    " + ",".join("0x%X" % x for x in data[i:i + 12]) + ",")
    w("};")
    w("const Decomposition kDecompositions[%d] = {" % len(entries))
    for cp, offset, length in entries:
        w("    {0x%X, %d, %d}," % (cp, offset, length))
    w("};")
    w("const size_t kDecompositionCount = %d;" % len(entries))
    w("")
    w("const Composition kCompositions[%d] = {" % len(compositions))
    for first, second, composite in compositions:
        w("    {0x%X, 0x%X, 0x%X}," % (first, second, composite))
    w("};")
    w("const size_t kCompositionCount = %d;" % len(compositions))
    w("")
    qc = ranges_of(sorted(nfc_not_yes))
    w("const CodePointRange kNfcQuickCheckNotYes[%d] = {" % len(qc))
    for first, last in qc:
        w("    {0x%X, 0x%X}," % (first, last))
    w("};")
    w("const size_t kNfcQuickCheckNotYesCount = %d;" % len(qc))
    w("")
    newer = ranges_of(sorted(assigned_after_9))
    w("const CodePointRange kAssignedAfterUnicode9[%d] = {" % len(newer))
    for first, last in newer:
        w("    {0x%X, 0x%X}," % (first, last))
    w("};")
    w("const size_t kAssignedAfterUnicode9Count = %d;" % len(newer))
    w("")
    w("}  // namespace mcpp::data::unicode::tables")
    with open(output, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()

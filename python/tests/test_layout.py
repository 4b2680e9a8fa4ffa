# SPDX-License-Identifier: MIT
"""The ctypes mirror in spatten._ffi against the C headers: every struct's
size, every field's offset and size, every copied constant, as a C program
built from libspatten.h prints them (tests/c/layout.c)."""

import ctypes

import pytest

from spatten import _ffi


def _structs(layout_json):
    return sorted(layout_json["structs"].items())


def test_every_mirrored_struct_is_printed(layout_json):
    assert set(_ffi.STRUCTS) == set(layout_json["structs"])


@pytest.mark.parametrize("name", sorted(_ffi.STRUCTS))
def test_struct_layout(layout_json, name):
    c = layout_json["structs"][name]
    py = _ffi.STRUCTS[name]
    assert ctypes.sizeof(py) == c["size"], name
    if name in ("spatten_job", "spatten_job3"):
        assert ctypes.alignment(py) == 8
        return
    py_fields = {f[0]: getattr(py, f[0]) for f in py._fields_}
    assert set(py_fields) == set(c["fields"]), name
    for field, (off, size) in c["fields"].items():
        assert py_fields[field].offset == off, (name, field)
        assert py_fields[field].size == size, (name, field)


def test_constants(layout_json):
    consts = layout_json["constants"]
    for name, value in consts.items():
        if name.startswith("FEAT_"):
            continue
        if name.startswith("CNT_") and name != "CNT_MAX":
            continue
        assert getattr(_ffi, name) == value, name


def test_feature_bits(layout_json):
    consts = layout_json["constants"]
    c_feats = {k[5:].lower(): v for k, v in consts.items()
               if k.startswith("FEAT_") and k != "FEAT_ALL"}
    assert c_feats == _ffi.FEAT_BITS
    assert sum(_ffi.FEAT_BITS.values()) == consts["FEAT_ALL"]


def test_counter_names(layout_json):
    consts = layout_json["constants"]
    names = _ffi.COUNTER_NAMES
    assert names.index("jobs_ok") == consts["CNT_JOBS_OK"]
    assert names.index("bytes_meta") == consts["CNT_BYTES_META"]
    assert names.index("resets") == consts["CNT_RESETS"]
    assert names.index("timeouts") == consts["CNT_TIMEOUTS"]
    assert names.index("irqs_dropped") == consts["CNT_IRQS_DROPPED"]
    assert len(names) == consts["CNT_IRQS_DROPPED"] + 1

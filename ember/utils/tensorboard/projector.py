"""Embedding Projector files: ``<log_dir>/<step>/<tag>/tensors.tsv`` (+ ``metadata.tsv``, ``sprite.png``) and an
``embeddings`` entry in ``<log_dir>/projector_config.pbtxt`` (the projector plugin's ProjectorConfig proto)."""

from __future__ import annotations

import math
import os

import numpy as np
from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from . import summary as S


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _metadata_tsv(metadata, header, n) -> bytes:
    rows = [list(r) if isinstance(r, (list, tuple)) else [r] for r in metadata]
    if len(rows) != n:
        raise ValueError(f"add_embedding: {len(rows)} metadata rows for {n} points; give one label per row of mat")
    if len(rows[0]) > 1 and header is None:
        raise ValueError("add_embedding: several metadata columns need metadata_header (their names)")
    lines = (["\t".join(map(str, header))] if header is not None and len(rows[0]) > 1 else [])
    lines += ["\t".join(str(c) for c in r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _sprite(label_img, n):
    arr = S.to_numpy(label_img)
    if arr.ndim != 4 or arr.shape[0] != n:
        raise ValueError(f"add_embedding: label_img must be N x C x H x W with N = {n} (one thumbnail per point), "
                         f"got shape {tuple(arr.shape)}")
    hwc = np.transpose(arr, (0, 2, 3, 1))
    side = int(math.ceil(math.sqrt(n)))
    pad = np.zeros((side * side - n, *hwc.shape[1:]), hwc.dtype)
    grid = S.to_hwc("add_embedding", "label_img", np.concatenate([hwc, pad]), "NHWC")
    return S.encode_png(grid), (int(arr.shape[3]), int(arr.shape[2]))


def write_embedding(log_dir, mat, metadata, label_img, global_step, tag, metadata_header) -> str:
    data = S.to_numpy(mat)
    if data.ndim != 2:
        raise ValueError(f"add_embedding: mat must be N x D (one row per point), got shape {tuple(data.shape)}")
    step = str(global_step or 0).zfill(5)
    rel = os.path.join(step, tag.replace("/", "_"))
    folder = os.path.join(log_dir, rel)
    os.makedirs(folder, exist_ok=True)
    rows = ["\t".join(repr(float(x)) for x in row) for row in data]
    _write_atomic(os.path.join(folder, "tensors.tsv"), ("\n".join(rows) + "\n").encode())
    config_path = os.path.join(log_dir, "projector_config.pbtxt")
    config = ProjectorConfig()
    if os.path.exists(config_path):
        with open(config_path) as f:
            text_format.Parse(f.read(), config)
    emb = config.embeddings.add(tensor_name=f"{tag}:{step}", tensor_path=os.path.join(rel, "tensors.tsv"))
    if metadata is not None:
        _write_atomic(os.path.join(folder, "metadata.tsv"), _metadata_tsv(metadata, metadata_header, len(data)))
        emb.metadata_path = os.path.join(rel, "metadata.tsv")
    if label_img is not None:
        png, dim = _sprite(label_img, len(data))
        _write_atomic(os.path.join(folder, "sprite.png"), png)
        emb.sprite.image_path = os.path.join(rel, "sprite.png")
        emb.sprite.single_image_dim.extend(dim)
    _write_atomic(config_path, text_format.MessageToString(config).encode())
    return folder

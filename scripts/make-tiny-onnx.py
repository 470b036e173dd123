"""Writes test/fixtures/models/tiny-onnx-nchw/model.onnx: a two-class "red or blue" network in the
shape PyTorch exports take (NCHW input, ImageNet mean/std normalisation, logits out), for the
bring-your-own-model tests. Run: python3 scripts/make-tiny-onnx.py (needs `pip install onnx numpy`).

pixels [N, 3, 32, 32] -> GlobalAveragePool -> Flatten -> MatMul W -> logits [N, 2], where
W = [[1, -1], [0, 0], [-1, 1]]: logit(red) = mean red - mean blue, logit(blue) the opposite.
"""
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = pathlib.Path(__file__).resolve().parent.parent / "test/fixtures/models/tiny-onnx-nchw/model.onnx"

weights = numpy_helper.from_array(np.array([[1, -1], [0, 0], [-1, 1]], dtype=np.float32), "W")
graph = helper.make_graph(
    [
        helper.make_node("GlobalAveragePool", ["pixels"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["features"], axis=1),
        helper.make_node("MatMul", ["features", "W"], ["logits"]),
    ],
    "red_or_blue",
    [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 3, 32, 32])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])],
    [weights],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make-tiny-onnx.py")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, OUT)
print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")

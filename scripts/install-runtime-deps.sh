#!/bin/sh
# Installs the production node_modules the container images run with, in the current directory
# (which holds package.json, package-lock.json, .npmrc and models/). The Dockerfile's runtime-deps
# stage runs it, and so does the clean-install test.
#   TFJS_NODE=auto|true|false  auto: install tfjs-node (it downloads libtensorflow) only when the
#                              model folder has no model.onnx, ONNX Runtime being the faster engine
#   MODEL_DIR                  the model folder served (default models/mobilenet_v2)
set -eu
TFJS_NODE="${TFJS_NODE:-auto}"
MODEL_DIR="${MODEL_DIR:-models/mobilenet_v2}"

# Install scripts off: onnxruntime-node's would download CUDA libraries; tfjs-node's runs below
# when it is wanted.
npm ci --omit=dev --ignore-scripts --no-audit --no-fund

if [ "$TFJS_NODE" = true ] || { [ "$TFJS_NODE" = auto ] && [ ! -f "$MODEL_DIR/model.onnx" ]; }; then
  npm rebuild @tensorflow/tfjs-node
else
  rm -rf node_modules/@tensorflow/tfjs-node
fi

# ONNX Runtime ships its binaries for every OS and CPU; keep this machine's (about 220 MB less).
arch=$(node -p process.arch)
for dir in node_modules/onnxruntime-node/bin/napi-v*/*; do
  [ "$(basename "$dir")" = linux ] || rm -rf "$dir"
done
for dir in node_modules/onnxruntime-node/bin/napi-v*/linux/*; do
  [ "$(basename "$dir")" = "$arch" ] || rm -rf "$dir"
done
find node_modules -name '*.map' -type f -delete

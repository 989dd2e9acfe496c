"""Image decoding, face detection, landmarks, alignment and embedding models (no Qt).

onnxruntime (1.2x and later) collects usage telemetry: a device id and queued events with model
file names under ~/.cache/Microsoft/DeveloperTools/.onnxruntime, sent to Microsoft's host. A face
tool that runs offline sends nothing, so the switch below is set here, before any module of this
package imports onnxruntime: the library reads ORT_DISABLE_TELEMETRY once, when it loads.
app/vision/onnx_runtime.py also turns the events off for a process that loaded it earlier.
"""

import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"

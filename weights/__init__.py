"""The shipped ONNX models and their manifest (data only; see weights/README.md)."""

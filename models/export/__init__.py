"""Export of trained models: TorchScript, ONNX (legacy exporter, opset 17), fp16 weights, parity."""

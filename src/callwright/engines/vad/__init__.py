"""Voice activity detectors: ``silero`` (ONNX, no torch) and ``webrtc``. Import the module you use."""

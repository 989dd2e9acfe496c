"""Image decoding, face detection, landmarks, alignment and embedding models (no Qt)."""

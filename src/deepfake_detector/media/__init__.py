"""Media: decoding images and video frames; face detection, tracking and cropping."""

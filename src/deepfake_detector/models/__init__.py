"""Models: timm backbones as binary real/fake frame classifiers."""

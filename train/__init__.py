"""The training extra (`pip install denoise-cli[train]`): recipes, datasets, noise on the fly,
the training loop, ONNX export and the quality benchmark. Imports torch; the inference package
never imports this.
"""

"""What comes in, in three rooms that say what they are, over two shared modules:

    inputs/     what people give the model: text, series and tables, vocabularies, the shipped corpus
    readers/    files -> stock modules: PyTorch pickles (any protocol, read inertly), Lightning,
                safetensors, TorchScript, Keras, ONNX, quantized models, and one small module per
                library's own layout (fastai, Flair, GRU4Rec, Darts / pytorch-forecasting …)
    models/     what a model is and does: task, embedding and head (open_model), our CharModel /
                SeqModel and their format, the pretrained registry and its cards
    files.py    bytes from a path or an upload, safetensors metadata, a file's name made safe to quote
    budget.py   the memory budget checked before anything a file declares is allocated

Inside io, imports go inputs <- readers <- models (files.py and budget.py below all three).
Imports: explorer.core (the kinds, to build and recognise modules) and explorer.errors.
"""

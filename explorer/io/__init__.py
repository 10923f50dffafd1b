"""What comes in: text and series, vocabularies, our checkpoints, other people's files, the models
around a stock core, and the pretrained registry.

    data.py         text and the synthetic tasks, validated into tensors; Vocab
    corpus.py       Tiny Shakespeare, shipped gzipped inside the package (the Train tab's default text)
    series.py       CSV tables (numeric and label columns), scalers (fitted, or a checkpoint's own)
    tokens.py       a foreign model's own vocabulary (JSON, text, pickled dictionaries)
    files.py        bytes from a path, safetensors metadata and tensors, one sentence per failure
    checkpoints.py  our format (safetensors + JSON metadata): save_model, load_model
    foreign.py      other people's checkpoints: every recurrent module, rebuilt as a stock module
    pickles.py      whole pickled models read without importing or running anything
    opcodes.py      a pickle's opcodes read without running it: the globals it names and calls
    protocols.py    pickle protocols 4 and 5 rewritten as protocol 2's opcodes (nothing runs)
    fastai.py       fastai's layout: the AWD-LSTM's WeightDropout halves put back together
    frameworks.py   Keras (.keras, .h5) and ONNX recurrent layers as stock modules, exactly
    quantized.py    dynamically quantized LSTMs/GRUs as their dequantized float models
    formats.py      what a file is when it is nothing we read (torch.export, SavedModel …)
    found.py        what reading a file finds: FoundModule, Foreign
    budget.py       the memory budget checked before anything a file declares is allocated
    tasks.py        a module's own embedding and head (by name, under its parent) and its task
    opened.py       open_model: a model as it is used (task, inputs(), readout())
    models.py       models around a stock core: CharModel, SeqModel, ModelConfig
    pretrained.py   the registry over pretrained/ (load_pretrained, list_pretrained)
    cards.py        writes pretrained/README.md from the cards inside each checkpoint

Imports: explorer.core (the kinds, to build and recognise modules) and explorer.errors.
"""

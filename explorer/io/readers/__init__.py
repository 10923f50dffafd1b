"""Readers: a file in, stock PyTorch modules out (every recurrent module it holds, exactly).

    foreign.py      the entry: read_foreign / load_recurrent over every format below
    found.py        what reading a file finds: FoundModule, Foreign
    pickles.py      whole pickled models read without importing or running anything
    opcodes.py      a pickle's opcodes read without running it: the globals it names and calls
    protocols.py    pickle protocols 4 and 5 rewritten as protocol 2's opcodes (nothing runs)
    frameworks.py   Keras (.keras, .h5) and ONNX recurrent layers as stock modules, exactly
    quantized.py    dynamically quantized LSTMs/GRUs as their dequantized float models
    formats.py      what a file is when it is nothing we read (torch.export, BERT, Mamba …)
    frames.py       the plain data of pickled pandas / numpy objects (an item map, a normaliser's numbers)
  One module per library's own layout (its key names, wrappers and saved settings), each with adapt(found),
  called by foreign.py in turn (LAYOUTS); a new library is one new file:
    fastai.py       fastai / ULMFiT: WeightDropout halves put back together; learn.export()'s vocabulary, decoder
    flair.py        Flair's LanguageModel.save(): its dictionary as the vocabulary, is_forward_lm
    gru4rec.py      GRU4Rec (official port: GRUCells, item map, tied head h·Wyᵀ + By) and GRU4REC-pytorch
    opennmt.py      OpenNMT-py: the encoder's deep embedding key and the source vocabulary the checkpoint carries
    forecasting.py  pytorch-forecasting and Darts: batch_first as they build it, a GroupNormalizer's numbers,
                    Darts' model.pt (no weights: model.pt.ckpt beside it)

Imports: explorer.core (the kinds), explorer.errors, and io/files.py and io/budget.py below it;
nothing from io/models.
"""

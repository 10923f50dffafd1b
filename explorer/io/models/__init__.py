"""Models: what a model is and does. Its task, embedding and head (open_model), our own models around
a stock core and their file format, and the pretrained registry with its cards.

    ours.py         models around a stock core: CharModel, SeqModel, ModelConfig, build()
    checkpoints.py  our format (safetensors + JSON metadata): save_model, load_model
    tasks.py        a module's own embedding and head (by name, under its parent) and its task
    opened.py       open_model: a model as it is used (task, inputs(), readout())
    pretrained.py   the registry over pretrained/ (load_pretrained, list_pretrained)
    cards.py        writes pretrained/README.md from the cards inside each checkpoint

Imports: explorer.core, explorer.errors, io/inputs (what a model reads), io/readers (files of
other people's models) and io/files.py, io/budget.py.
"""

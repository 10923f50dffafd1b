"""Small models of ours that tests in several folders train or trace."""
import torch

from explorer import CharModel, ModelConfig, Vocab

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


def tiny_char(kind="lstm"):
    torch.manual_seed(0)
    v = Vocab.from_text(TEXT)
    return CharModel(ModelConfig(kind, vocab_size=len(v), embedding_size=8, hidden_size=16), v)

"""An independent reference, written from the torch.nn.LSTM / GRU / RNN documentation's
equations with plain tensor ops and loops. It shares no code with explorer/."""
import torch


def _w(rnn, name, l, d):
    return getattr(rnn, f"{name}_l{l}{'_reverse' if d else ''}", None)


def reference(rnn, x, hx=None, lengths=None):
    """x time-major (T, B, I). Returns dict of (L, D, T, B, H) lists and finals; NaN for padding."""
    kind = {torch.nn.LSTM: "lstm", torch.nn.GRU: "gru", torch.nn.RNN: "rnn"}[type(rnn)]
    T, B, _ = x.shape
    L, D = rnn.num_layers, 2 if rnn.bidirectional else 1
    H, P = rnn.hidden_size, rnn.proj_size or rnn.hidden_size
    lengths = [T] * B if lengths is None else list(lengths)
    names = {"lstm": "ifgo", "gru": "rzn", "rnn": ""}[kind]
    nan = lambda n: torch.full((L, D, T, B, n), float("nan"), dtype=x.dtype)
    res = {g: nan(H) for g in names}
    res["h"], res["c"] = nan(P), nan(H)
    h_n = torch.zeros(L * D, B, P, dtype=x.dtype)
    c_n = torch.zeros(L * D, B, H, dtype=x.dtype)
    inp = x
    for l in range(L):
        outs = torch.zeros(T, B, D * P, dtype=x.dtype)
        for d in range(D):
            k = l * D + d
            W_ih, W_hh = _w(rnn, "weight_ih", l, d), _w(rnn, "weight_hh", l, d)
            b_ih = _w(rnn, "bias_ih", l, d) if rnn.bias else torch.zeros(W_ih.shape[0], dtype=x.dtype)
            b_hh = _w(rnn, "bias_hh", l, d) if rnn.bias else torch.zeros(W_ih.shape[0], dtype=x.dtype)
            W_hr = _w(rnn, "weight_hr", l, d)
            for b in range(B):
                h = torch.zeros(P, dtype=x.dtype) if hx is None else (hx[0] if kind == "lstm" else hx)[k, b]
                c = torch.zeros(H, dtype=x.dtype) if hx is None or kind != "lstm" else hx[1][k, b]
                order = range(lengths[b]) if d == 0 else reversed(range(lengths[b]))
                for t in order:
                    xt = inp[t, b]
                    if kind == "lstm":
                        z = W_ih @ xt + b_ih + W_hh @ h + b_hh
                        i, f, g, o = torch.sigmoid(z[:H]), torch.sigmoid(z[H:2*H]), torch.tanh(z[2*H:3*H]), torch.sigmoid(z[3*H:])
                        c = f * c + i * g
                        h = o * torch.tanh(c)
                        if W_hr is not None:
                            h = W_hr @ h
                        for nm, v in zip("ifgo", (i, f, g, o)):
                            res[nm][l, d, t, b] = v
                        res["c"][l, d, t, b] = c
                    elif kind == "gru":
                        gi, gh = W_ih @ xt + b_ih, W_hh @ h + b_hh
                        r = torch.sigmoid(gi[:H] + gh[:H])
                        zz = torch.sigmoid(gi[H:2*H] + gh[H:2*H])
                        n = torch.tanh(gi[2*H:] + r * gh[2*H:])
                        h = (1 - zz) * n + zz * h
                        for nm, v in zip("rzn", (r, zz, n)):
                            res[nm][l, d, t, b] = v
                    else:
                        a = W_ih @ xt + b_ih + W_hh @ h + b_hh
                        h = torch.tanh(a) if rnn.nonlinearity == "tanh" else torch.relu(a)
                    res["h"][l, d, t, b] = h
                    outs[t, b, d * P:(d + 1) * P] = h
                h_n[k, b] = h
                if kind == "lstm":
                    c_n[k, b] = c
        inp = outs
    res["output"], res["h_n"], res["c_n"] = inp, h_n, (c_n if kind == "lstm" else None)
    if kind != "lstm":
        del res["c"]
    return res


def unpack(res):
    """A module's result as (output, h_n, c_n), c_n None where it has no cell state."""
    out, st = res
    return (out, *st) if isinstance(st, tuple) else (out, st, None)

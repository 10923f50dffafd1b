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


# ---- the 2024 cells, from the papers' equations (Feng et al. 2024; Beck et al. 2024) ----------------
def _g(a):
    """minGRU/minLSTM's positive activation (Feng et al., Appendix B.3): a + 1/2 for a >= 0, else sigmoid(a)."""
    return torch.where(a >= 0, a + 0.5, 1 / (1 + torch.exp(-a)))


def reference_modern(m, x, hx=None, lengths=None):
    """Our MinGRU / MinLSTM / SLSTM on time-major x (T, B, I), one sequence and one step at a time.
    Returns {gate or state: (L, 1, T, B, H)} (NaN where padded), "output" (T, B, H), "h_n" (L, B, H) and,
    for an sLSTM, "c_n", "n_n", "m_n". hx: h_0 (L, B, H), or (h_0, c_0, n_0, m_0) for an sLSTM."""
    kind = type(m).__name__
    T, B, _ = x.shape
    L, H = m.num_layers, m.hidden_size
    lengths = [T] * B if lengths is None else list(lengths)
    names = {"MinGRU": "zn", "MinLSTM": "fin", "SLSTM": "ifzo"}[kind]
    states = ["c", "n", "m"] if kind == "SLSTM" else []
    nan = lambda: torch.full((L, 1, T, B, H), float("nan"), dtype=x.dtype)
    res = {k: nan() for k in [*names, *states, "h"]}
    finals = {k: torch.zeros(L, B, H, dtype=x.dtype) for k in ["h", *states]}
    parts = (hx,) if isinstance(hx, torch.Tensor) else hx
    sig = lambda a: 1 / (1 + torch.exp(-a))
    inp = x
    for l in range(L):
        W = getattr(m, f"weight_ih_l{l}")
        b = getattr(m, f"bias_ih_l{l}")
        b = torch.zeros(W.shape[0], dtype=x.dtype) if b is None else b
        out = torch.zeros(T, B, H, dtype=x.dtype)
        for s in range(B):
            st = {k: torch.zeros(H, dtype=x.dtype) for k in ["h", *states]}
            if parts is not None:
                for k, v in zip(["h", *states], parts):
                    st[k] = v[l, s].clone()
            for t in range(lengths[s]):
                a = W @ inp[t, s] + b
                if kind == "MinGRU":
                    z, n = sig(a[:H]), _g(a[H:])
                    st["h"] = (1 - z) * st["h"] + z * n
                    gates = dict(z=z, n=n)
                elif kind == "MinLSTM":
                    f, i, n = sig(a[:H]), sig(a[H:2 * H]), _g(a[2 * H:])
                    f, i = f / (f + i), i / (f + i)
                    st["h"] = f * st["h"] + i * n
                    gates = dict(f=f, i=i, n=n)
                else:
                    R, bh = getattr(m, f"weight_hh_l{l}"), getattr(m, f"bias_hh_l{l}")
                    K = R.shape[0]
                    d = H // K
                    rec = torch.zeros(4, H, dtype=x.dtype)
                    for k in range(K):            # one block per head: head k's units read head k's h only
                        for gi in range(4):
                            rec[gi, k * d:(k + 1) * d] = R[k, gi * d:(gi + 1) * d] @ st["h"][k * d:(k + 1) * d]
                    a = a.view(4, H) + rec + (0 if bh is None else bh.view(4, H))
                    log_f = torch.log(sig(a[1])) + st["m"]
                    m_new = a[0] if bool((st["n"] == 0).all()) else torch.maximum(log_f, a[0])
                    i = torch.clamp(torch.exp(a[0] - m_new), max=1.0)      # xlstm's vanilla clamps to 1
                    f = torch.clamp(torch.exp(log_f - m_new), max=1.0)
                    z, o = torch.tanh(a[2]), sig(a[3])
                    st["c"] = f * st["c"] + i * z
                    st["n"] = f * st["n"] + i
                    st["m"] = m_new
                    st["h"] = o * st["c"] / st["n"]
                    gates = dict(i=i, f=f, z=z, o=o)
                for k, v in [*gates.items(), *((k, st[k]) for k in [*states, "h"])]:
                    res[k][l, 0, t, s] = v
                out[t, s] = st["h"]
            for k in finals:
                finals[k][l, s] = st[k]
        inp = out
    res["output"] = inp
    for k, v in finals.items():
        res[f"{k}_n"] = v
    return res

"""The package as a user gets it: `pip install .` into a fresh venv, then from another directory
import explorer, load a pretrained model, trace a string, and start `gate-explorer`. Slow (it builds
a wheel): marked `slow`, still part of the default run (about a minute)."""
import os
import site
import subprocess
import sys
import sysconfig
import textwrap
import venv

import pytest

import explorer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_version_and_cli_version():
    assert explorer.__version__.count(".") == 2
    out = subprocess.run([sys.executable, "-m", "explorer", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == f"gate-explorer {explorer.__version__}"


def test_the_library_imports_without_plotly_or_streamlit():
    code = ("import sys; sys.modules['plotly'] = None; sys.modules['streamlit'] = None\n"
            "import explorer, torch\n"
            "tr = explorer.trace(torch.nn.GRU(3, 4), torch.randn(5, 3))\n"
            "print(tr.kind, tuple(tr.h.shape))\n"
            "try:\n    explorer.plots\nexcept ImportError:\n    print('plots need plotly')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["gru (1, 1, 5, 1, 4)", "plots need plotly"]


def test_notebook_conveniences_return_figures():
    import torch
    torch.manual_seed(0)
    rnn = torch.nn.LSTM(3, 6, proj_size=4)
    x = torch.randn(12, 3)
    fig = explorer.trace(rnn, x).plot(units=5, labels=list("hello world!"))
    assert [a.z.shape[0] for a in fig.data] == [5, 5, 5, 5, 5, 4]      # h of a projected LSTM has 4 units
    assert fig.layout.xaxis6.ticktext[0] == "h" and len(fig.data) == 6
    sub = explorer.trace(rnn, x).plot(["f", "c"], units=[0, 2])
    assert [list(t.y) for t in sub.data] == [["u0", "u2"], ["u0", "u2"]]
    gf = explorer.gradient_flow(rnn, x).plot()
    assert [t.name for t in gf.data] == ["‖dJ/dh_t‖", "‖dJ/dc_t‖"] and gf.layout.yaxis.type == "log"


def see_our_packages(env_dir) -> str:
    """A fresh venv that sees the packages of the interpreter running pytest (torch, streamlit …), after
    its own. `system_site_packages=True` would show the *base* interpreter's, which lacks them when
    pytest itself runs from a venv. Plain path lines, so no .pth of ours (an editable install) runs there."""
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = str(env_dir / "bin" / "python")
    ours = [p for p in dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
                                      *site.getsitepackages(), site.getusersitepackages()]) if os.path.isdir(p)]
    theirs = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(theirs, "running-interpreter.pth"), "w") as f:
        f.write("\n".join(ours) + "\n")
    return py


def without_the_app(env_dir, missing=("streamlit", "plotly")) -> str:
    """A fresh venv that has every package of ours except the app's (streamlit, plotly and their
    dist-info): one folder of links to our site-packages' entries, minus those, on its path."""
    py = see_our_packages(env_dir)
    theirs = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    pth = os.path.join(theirs, "running-interpreter.pth")
    ours = open(pth).read().split()
    shown = env_dir / "shown"
    shown.mkdir()
    for folder in ours:
        for name in os.listdir(folder):
            if name.lower().startswith(missing) or name.endswith(".pth") or (shown / name).exists():
                continue                 # a .pth of another install (editable ones) would run there
            os.symlink(os.path.join(folder, name), shown / name)
    with open(pth, "w") as f:
        f.write(f"{shown}\n{ROOT}\n")
    return py


def test_the_library_works_in_a_venv_without_streamlit_or_plotly(tmp_path):
    py = without_the_app(tmp_path / "venv")
    code = textwrap.dedent("""
        import importlib.util, torch, explorer
        assert importlib.util.find_spec("streamlit") is None and importlib.util.find_spec("plotly") is None
        torch.manual_seed(0)
        rnn = torch.nn.LSTM(3, 5, batch_first=True)
        tr = explorer.trace(rnn, torch.randn(2, 7, 3))
        out, _ = rnn(torch.randn(2, 7, 3))
        flow = explorer.gradient_flow(rnn, torch.randn(7, 3))
        conn = explorer.connectivity(torch.nn.GRU(3, 4), torch.randn(9, 3))
        m = explorer.load_pretrained("shakespeare-gru")
        t2 = explorer.trace(m.core, m.embed("To be"))
        try:
            explorer.plots
        except ImportError as e:
            print("plots:", e)
        print(tr.kind, tuple(tr.h.shape), type(flow).__name__, type(conn).__name__, t2.steps)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([py, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().split("\n")
    assert lines[0].startswith("plots:") and "plotly" in lines[0], lines
    assert lines[1].split()[:2] == ["lstm", "(1,"] and lines[1].split()[-1] == "5", lines
    cli = subprocess.run([py, "-m", "explorer"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert cli.returncode != 0 and "Traceback" not in cli.stderr and "streamlit" in cli.stderr, cli.stderr[-2000:]


def test_the_nested_venv_sees_the_running_interpreters_packages(tmp_path):
    py = see_our_packages(tmp_path / "venv")
    out = subprocess.run([py, "-c", "import torch, sys; print(torch.__version__, sys.prefix)"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    version, prefix = out.stdout.split()
    import torch
    assert version == torch.__version__ and prefix == str(tmp_path / "venv")


@pytest.mark.slow
def test_pip_install_then_import_anywhere_and_serve(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                            ROOT], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    wheel = next(wheels.glob("gate_explorer-*.whl"))
    import zipfile
    with zipfile.ZipFile(wheel) as z:                      # one install runs the app: streamlit and plotly are required
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    needs = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert any(r.startswith("streamlit") and "extra" not in r for r in needs), needs
    assert any(r.startswith("plotly") and "extra" not in r for r in needs), needs
    env_dir = tmp_path / "venv"
    py = see_our_packages(env_dir)
    inst = subprocess.run([py, "-m", "pip", "install", "--no-deps", "-q", str(wheel)], capture_output=True, text=True,
                          timeout=300)
    assert inst.returncode == 0, inst.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = textwrap.dedent("""
        import explorer
        assert "site-packages" in explorer.__file__, explorer.__file__
        m = explorer.load_pretrained("shakespeare-lstm")
        tr = explorer.trace(m.core, m.embed("To be, or not to be"))
        from explorer.io.inputs.corpus import tiny_shakespeare
        assert len(tiny_shakespeare()) == 1_115_394          # the corpus travels inside the package
        print(sorted(explorer.list_pretrained())[0], tr.kind, tr.steps, explorer.__version__)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([py, "-c", code], capture_output=True, text=True, cwd=elsewhere, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["adding-gru", "lstm", "19", explorer.__version__]
    from explorer.bench.browser import free_port, wait_healthy
    port = free_port()
    proc = subprocess.Popen([str(env_dir / "bin" / "gate-explorer"), "--server.port", str(port), "--server.headless",
                             "true", "--server.address", "127.0.0.1"], cwd=elsewhere, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", 90, proc)
    finally:
        proc.terminate()
        proc.wait(10)

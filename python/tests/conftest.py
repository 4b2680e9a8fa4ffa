import json, os, subprocess, pytest, numpy as np, spatten
@pytest.fixture(scope="session")
def dev():
    return spatten.open(backend="sim")
@pytest.fixture(scope="session")
def layout_json(tmp_path_factory):
    top = os.path.abspath("..")
    exe = str(tmp_path_factory.mktemp("c") / "layout")
    subprocess.check_call(["gcc", "-I%s/lib" % top, "-I%s/include" % top, top + "/python/tests/c/layout.c", "-o", exe])
    return json.loads(subprocess.check_output([exe]))
@pytest.fixture
def rng():
    return np.random.default_rng(1234)

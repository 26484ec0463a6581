"""bench/render.py pairs reference and fastdl results and writes the README's table between markers."""
import importlib.util
import json
import pathlib

import pytest

RENDER = pathlib.Path(__file__).resolve().parent.parent / "bench" / "render.py"


@pytest.fixture(scope="module")
def render():
    if not RENDER.exists():
        pytest.skip("bench/ is not beside tests/")
    spec = importlib.util.spec_from_file_location("render", RENDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench(group, median, params=None, **extra_info):
    return {"group": group, "params": params, "stats": {"median": median}, "extra_info": extra_info}


RUN = {
    "datetime": "2026-12-07T14:07:59.738263+00:00",
    "machine_info": {"cpu": {"brand_raw": "Some CPU", "count": 2}, "load_average": [1.5, 2.0]},
    "commit_info": {"id": "0123456789abcdef", "dirty": False},
    "benchmarks": [
        bench("Adam interleaved", 0.5, None, median_reference=0.004, median_fastdl=0.001),
        bench("pool", 0.030, {"impl": "reference", "layer": "a"}),
        bench("pool", 0.020, {"impl": "torch", "layer": "a"}),
        bench("pool", 0.010, {"impl": "fastdl", "layer": "a"}),
        bench("pool", 0.009, {"impl": "fastdl", "layer": "b"}),   # no reference: left out
        bench("threads", 0.1, {"threads": 1}),                    # no pair: left out
        bench("step", 2.0, {"which": "book"}),
        bench("step", 0.5, {"which": "fastdl"}),
    ],
}


def test_pairs_interleaved_and_side_by_side(render):
    rows = render.pairs(RUN["benchmarks"])
    assert rows == [("Adam interleaved", 0.004, 0.001, "interleaved"),
                    ("pool", 0.030, 0.010, "side by side"),
                    ("step", 2.0, 0.5, "side by side")]


def test_table_is_written_between_the_markers_with_its_stamp(render, tmp_path):
    results = tmp_path / "run.json"
    results.write_text(json.dumps(RUN))
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{render.START}\nold table\n{render.END}\nafter\n")
    render.main([str(results), "--write", str(readme)])
    text = readme.read_text()
    assert text.startswith(f"before\n{render.START}\n| benchmark |") and text.endswith(f"{render.END}\nafter\n")
    assert "old table" not in text
    assert "| Adam interleaved | 4.00 ms | 1.00 ms | **4.00×** | interleaved |" in text
    assert "| pool | 30.0 ms | 10.0 ms | **3.00×** | side by side |" in text
    assert "Some CPU, 2 cores, commit 0123456, 2026-12-07 14:07 UTC, load average 1.5 -> 2.0" in text


def test_a_file_without_markers_is_left_alone(render, tmp_path):
    results = tmp_path / "run.json"
    results.write_text(json.dumps(RUN))
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit):
        render.main([str(results), "--write", str(readme)])
    assert readme.read_text() == "no markers\n"

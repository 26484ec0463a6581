"""``report.md``: every figure, the final numbers and the wall times per backend."""
from pathlib import Path


def write_report(records, out_dir, command, data_source, unfinished=()):
    """Write ``out_dir/report.md`` from the records of :func:`run_experiment`.

    Parameters
    ----------
    records : list of dict
        One per (experiment, backend), in the order run.
    out_dir : str or os.PathLike
    command : str
        The command line, shown at the top.
    data_source : MnistSource or None
    unfinished : sequence of str
        Experiments that did not finish (the run was interrupted), named at the top.
    """
    by_experiment = {}
    for record in records:
        by_experiment.setdefault(record["experiment"], {})[record["backend"]] = record
    backends = list(dict.fromkeys(record["backend"] for record in records))
    first = records[0]
    lines = [
        "# fastdl: the experiments of chapter 6",
        "",
        f"`{command}` — scale `{first['scale']}`, seed {first['seed']}, "
        f"fastdl {first['versions']['fastdl']}, NumPy {first['versions']['numpy']}.",
        "",
        f"**Data**: {data_source.description} (source `{data_source.kind}`, "
        f"{data_source.train_size:,} training / {data_source.test_size:,} test images)."
        if data_source is not None else "**Data**: no MNIST needed.",
        "",
    ]
    if unfinished:
        lines += [f"**Interrupted**: this report shows only the experiments that finished; not run or "
                  f"not finished: {', '.join(unfinished)}.", ""]
    lines += [
        "## Wall time",
        "",
    ]
    lines += _timing_table(by_experiment, backends)
    for name, per_backend in by_experiment.items():
        shown = per_backend.get("fastdl") or next(iter(per_backend.values()))
        lines += ["", f"## {shown['title']}", "", f"`fastdl {name}`; settings: `{_settings(shown['settings'])}`", ""]
        lines += [f"![{figure}]({figure})" for figure in shown["figures"]]
        if "note" in shown:
            lines += ["", shown["note"]]
        lines += [""] + _summary_table(per_backend, backends)
    path = Path(out_dir) / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _timing_table(by_experiment, backends):
    both = len(backends) == 2
    header = "| experiment | " + " | ".join(f"{b} (s)" for b in backends)
    header += " | speed-up (reference / fastdl) | same numbers |" if both else " |"
    rows = [header, "|" + "---|" * (len(backends) + 1 + 2 * both)]
    totals = dict.fromkeys(backends, 0.0)
    for name, per_backend in by_experiment.items():
        cells = []
        for backend in backends:
            seconds = per_backend[backend]["seconds"]
            totals[backend] += seconds
            cells.append(f"{seconds:.2f}")
        row = f"| {name} | " + " | ".join(cells)
        if both:
            same = per_backend["fastdl"]["summary"] == per_backend["reference"]["summary"]
            ratio = per_backend["reference"]["seconds"] / per_backend["fastdl"]["seconds"]
            row += f" | {ratio:.2f}× | {'yes' if same else 'no'}"
        rows.append(row + " |")
    total = "| **total** | " + " | ".join(f"**{totals[b]:.2f}**" for b in backends)
    if both:
        total += f" | **{totals['reference'] / totals['fastdl']:.2f}×** |"
    rows.append(total + " |")
    return rows


def _summary_table(per_backend, backends):
    rows = ["| | " + " | ".join(backends) + " |", "|---|" + "---|" * len(backends)]
    keys = next(iter(per_backend.values()))["summary"]
    for key in keys:
        rows.append(f"| {key} | " + " | ".join(_format(per_backend[b]["summary"].get(key)) for b in backends) + " |")
    return rows


def _format(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _settings(settings):
    return ", ".join(f"{key}={value}" for key, value in settings.items())

"""Write a small saved detector state with the code of one checkout, for ``tests/test_mvad_state.py``.

Run it with the checkout whose state version it should write first on the path, e.g.::

    git worktree add /tmp/v2 7c76aed^
    PYTHONPATH=/tmp/v2 .venv/bin/python tests/data/states/make_states.py tests/data/states/v2 '{}'
    PYTHONPATH=/tmp/v5 .venv/bin/python tests/data/states/make_states.py tests/data/states/v5 \
        '{"branches": [{"kind": "network", "hidden": 16}, "linear", "analog"]}'    # version 5 on: branches

It fits a detector (window 120, hidden 16, 3 epochs, seed 0) on server-like metrics with a daily pattern
(every branch of that version takes part) and saves ``state.safetensors``, ``state.json`` and ``expected.npz``
(the scores, contributions, flags and severities of four scored days with load at night, as that code gave
them).  Only numpy, safetensors and the detector's ``get_state`` are used, so it runs on every version.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

DAY = 96


def server_day(days: int, seed: int, bump_at: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days * DAY)
    hour = 24 * ((t / DAY) % 1.0)
    load = 0.15 + 0.85 * np.exp(-((hour - 10.5) / 2.2) ** 2) + 0.7 * np.exp(-((hour - 15.5) / 2.0) ** 2)
    load = load * (1 + 0.1 * rng.uniform(-1, 1, days))[t // DAY]
    if bump_at is not None:
        load[bump_at:bump_at + 12] = 0.15 + 0.6 * np.sin(np.linspace(0, np.pi, 12))
    gains = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    columns = [g * load + 0.04 * g * rng.normal(size=len(t)) for g in gains]
    return np.column_stack(columns + [rng.normal(size=len(t)), rng.normal(size=len(t))])


def main(out: str, params: str) -> None:
    from safetensors.numpy import save_file

    from workbench.mvad.detector import MultivariateDetector

    torch.set_num_threads(1)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    params = json.loads(params)
    hidden = {} if "branches" in params else {"hidden": 16}  # before version 5 the network's size was the detector's
    det = MultivariateDetector(sliding_window=120, epochs=3, seed=0, num_threads=1, **hidden,
                               **params).fit(server_day(14, 0))
    test = server_day(4, 1, bump_at=2 * DAY + 6)
    result = det.score(test)
    tensors, meta = det.get_state()
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(folder / "state.safetensors"))
    (folder / "state.json").write_text(json.dumps(meta, indent=1))
    np.savez_compressed(folder / "expected.npz", test=test, score=result.score, contributions=result.contributions,
                        is_anomaly=result.is_anomaly, severity=result.severity, threshold=result.threshold)
    print(folder, meta["stateVersion"], f"{result.is_anomaly.sum()} flagged, threshold {result.threshold:.4g}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "{}")

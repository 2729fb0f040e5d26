"""Train a random forest on the prepared split and write its test metrics.

Reads the `train` section of params.yaml: n_est (number of trees), min_split (minimum
samples to split a node) and seed. Writes model.pkl and metrics.json.
"""

import json
import pickle
from pathlib import Path

import numpy as np
from ruamel.yaml import YAML
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import average_precision_score, roc_auc_score


def main() -> None:
    params = YAML(typ="safe").load(Path("params.yaml"))["train"]
    train = np.load("data/prepared/train.npz")
    test = np.load("data/prepared/test.npz")

    model = RandomForestClassifier(
        n_estimators=params["n_est"],
        min_samples_split=params["min_split"],
        random_state=params["seed"],
        n_jobs=1,
    )
    model.fit(train["x"], train["y"])
    scores = model.predict_proba(test["x"])[:, 1]

    metrics = {
        "avg_prec": round(float(average_precision_score(test["y"], scores)), 6),
        "roc_auc": round(float(roc_auc_score(test["y"], scores)), 6),
    }
    Path("model.pkl").write_bytes(pickle.dumps(model))
    Path("metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
